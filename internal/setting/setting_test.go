package setting

import (
	"testing"
	"time"
)

func TestOrKeepsPositiveSettingsAndDefaultsTheRest(t *testing.T) {
	for _, tt := range []struct{ v, def, want int }{
		{5, 10, 5},
		{0, 10, 10},
		{-1, 10, 10},
	} {
		if got := Or(tt.v, tt.def); got != tt.want {
			t.Errorf("Or(%d, %d) = %d, want %d", tt.v, tt.def, got, tt.want)
		}
	}
	if got := Or(time.Duration(0), time.Second); got != time.Second {
		t.Errorf("Or(0, 1s) = %v, want 1s", got)
	}
}
