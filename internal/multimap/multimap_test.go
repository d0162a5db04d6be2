package multimap

import (
	"slices"
	"testing"
)

func TestRemove(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []int
		v    int
		want []int // nil: the key is gone
	}{
		{"the only value", []int{1}, 1, nil},
		{"the first of two", []int{1, 2}, 1, []int{2}},
		{"the last of three", []int{1, 2, 3}, 3, []int{1, 2}},
		{"only the first of equal values", []int{2, 1, 2}, 2, []int{1, 2}},
		{"a value not there", []int{1, 2}, 9, []int{1, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			old := slices.Clone(c.in)
			m := map[string][]int{"k": c.in}
			Remove(m, "k", c.v)
			got, ok := m["k"]
			if c.want == nil {
				if ok {
					t.Fatalf("m[k] = %v, want the key removed", got)
				}
			} else if !slices.Equal(got, c.want) {
				t.Fatalf("m[k] = %v, want %v", got, c.want)
			}
			if !slices.Equal(c.in, old) {
				t.Fatalf("the slice held before was changed to %v, from %v", c.in, old)
			}
		})
	}
}

func TestRemoveFromAMissingKey(t *testing.T) {
	m := map[string][]int{}
	Remove(m, "k", 1)
	if _, ok := m["k"]; ok {
		t.Fatal("Remove of a missing key added it")
	}
}
