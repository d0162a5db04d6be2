package activitypub

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// otherProcess opens the store of e's data directory a second time, as
// `subpub token` does while the origin runs.
func (e *testEnv) otherProcess() *Store {
	e.t.Helper()
	s, err := OpenStore(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

func bearer(secret string) []string { return []string{"Authorization", "Bearer " + secret} }

// TestTokenLifecycle checks that tokens added, listed, revoked and expired
// are accepted and refused as they should be, and that the --user token
// stays beside them.
func TestTokenLifecycle(t *testing.T) {
	e := newEnv(t)
	cli := e.otherProcess()
	tok, secret, err := cli.AddToken(t.Context(), "alice", "laptop", 0)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := e.do(http.MethodGet, "/users/alice/inbox", "", nil, bearer(secret)...); status != http.StatusOK {
		t.Fatalf("a new token: %d, want 200", status)
	}
	short, shortSecret, err := cli.AddToken(t.Context(), "alice", "", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if status, _, _ := e.do(http.MethodGet, "/users/alice/inbox", "", nil, bearer(shortSecret)...); status != http.StatusUnauthorized {
		t.Errorf("an expired token: %d, want 401", status)
	}
	if _, newcomer, err := cli.AddToken(t.Context(), "erin", "", 0); err != nil {
		t.Fatal(err)
	} else if status, _, _ := e.do(http.MethodGet, "/users/erin/inbox", "", nil, bearer(newcomer)...); status != http.StatusOK {
		t.Errorf("a token of a user it created: %d, want 200", status)
	}

	list, err := e.store.Tokens(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.ID+" "+l.Name)
		if l.ID == short.ID && !l.Expired(time.Now()) {
			t.Errorf("token %s listed as not expired", l.ID)
		}
	}
	if len(list) != 3 || list[0].Name != UserFlagToken || list[1].ID != tok.ID || list[1].Name != "laptop" || list[2].ID != short.ID {
		t.Errorf("alice's tokens: %v", names)
	}

	if _, err := cli.RevokeToken(t.Context(), tok.ID); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := e.do(http.MethodGet, "/users/alice/inbox", "", nil, bearer(secret)...); status != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", status)
	}
	e.get("alice", "/users/alice/inbox", http.StatusOK) // the --user token stays
	if _, err := cli.RevokeToken(t.Context(), tok.ID); !errors.Is(err, ErrNoSuchToken) {
		t.Errorf("revoking it again: %v, want ErrNoSuchToken", err)
	}

	// --user again with another token replaces the flag's token only.
	_, kept, _ := cli.AddToken(t.Context(), "alice", "kept", 0)
	if err := cli.EnsureUser(t.Context(), "alice", "replacement"); err != nil {
		t.Fatal(err)
	}
	e.get("alice", "/users/alice/inbox", http.StatusUnauthorized)
	for _, secret := range []string{"replacement", kept} {
		if status, _, _ := e.do(http.MethodGet, "/users/alice/inbox", "", nil, bearer(secret)...); status != http.StatusOK {
			t.Errorf("token %q after --user replaced the flag's: %d, want 200", secret, status)
		}
	}
	if revoked, err := cli.RevokeUserTokens(t.Context(), "alice"); err != nil || len(revoked) != 3 {
		t.Fatalf("revoking alice's tokens: %d, %v", len(revoked), err)
	}
	for _, secret := range []string{"replacement", kept} {
		if status, _, _ := e.do(http.MethodGet, "/users/alice/inbox", "", nil, bearer(secret)...); status != http.StatusUnauthorized {
			t.Errorf("token %q after revoking all of alice's: %d, want 401", secret, status)
		}
	}
}

// TestTokensMigrateFromActors opens a database made when each actor had
// one token, in actors.token_hash: the token still works, from the tokens
// table.
func TestTokensMigrateFromActors(t *testing.T) {
	dir := olderSQLite(t, `
		CREATE TABLE actors (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, profile TEXT NOT NULL, created_at BIGINT NOT NULL);
		CREATE UNIQUE INDEX actors_token_hash ON actors (token_hash);
		INSERT INTO actors VALUES ('alice', ?, '{}', 1);`, hashToken("old-token"))
	openTwice(t, dir, func(store *Store) {
		c, err := store.credentialFor(t.Context(), hashToken("old-token"))
		if err != nil || c.actor != "alice" {
			t.Errorf("the old token: %+v, %v", c, err)
		}
		if tokens, err := store.Tokens(t.Context(), "alice"); err != nil || len(tokens) != 1 || tokens[0].Name != UserFlagToken {
			t.Errorf("tokens %+v, %v", tokens, err)
		}
		if err := store.EnsureUser(t.Context(), "bob", "bob-token"); err != nil {
			t.Errorf("provisioning a user after migrating: %v", err)
		}
	})
}
