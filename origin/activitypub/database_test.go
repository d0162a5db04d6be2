package activitypub

import "testing"

func TestRebindNumbersPlaceholdersOutsideLiterals(t *testing.T) {
	for _, tt := range []struct {
		numbered bool
		in, want string
	}{
		{false, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = ? AND c = ?`},
		{true, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{true, `SELECT 'a?b' || ?, "q?" FROM t WHERE x = ?`, `SELECT 'a?b' || $1, "q?" FROM t WHERE x = $2`},
		{true, `SELECT 'it''s?' , ?`, `SELECT 'it''s?' , $1`},
		{true, `SELECT 1`, `SELECT 1`},
	} {
		if got := rebind(tt.numbered, tt.in); got != tt.want {
			t.Errorf("rebind(%v, %q) = %q, want %q", tt.numbered, tt.in, got, tt.want)
		}
	}
}

func FuzzRebind(f *testing.F) {
	for _, s := range []string{`SELECT ?`, `'?'?`, `"?"'?`, `?'`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out := rebind(true, q)
		if len(out) < len(q) {
			t.Fatalf("rebind(%q) = %q, shorter", q, out)
		}
	})
}
