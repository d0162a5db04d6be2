package activitypub

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Token is a bearer token as the store knows it: everything but its
// secret, which is never stored.
type Token struct {
	// ID names the token, to revoke it.
	ID string
	// User is the local actor the token authenticates.
	User string
	// Name is a label of its owner's choosing; UserFlagToken for the token
	// EnsureUser provisions.
	Name    string
	Created time.Time
	// Expires is when the token stops being accepted; zero if never.
	Expires time.Time
}

// Expired reports whether the token is no longer accepted at now.
func (t Token) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// UserFlagToken is the name of the token EnsureUser provisions (the origin's
// --user flag): each call replaces the previous one of that name.
const UserFlagToken = "--user"

// ErrNoSuchToken reports a token id (or user) that the store does not hold.
var ErrNoSuchToken = errors.New("no such token")

// credential is what authenticating a token establishes: whose it is, until
// when, and the token generation it was read at, for the server to tell
// whether it must check it again (see Server.checkCredentials).
type credential struct {
	actor   string
	hash    string
	expires time.Time // zero: never
	gen     uint64
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newTokenID is a short random id, unique in practice, that is safe to print
// and type: it is not a secret.
func newTokenID() string { return "tok_" + strings.ToLower(rand.Text()[:12]) }

// newTokenSecret is a token's secret: 130 random bits.
func newTokenSecret() string { return rand.Text() }

// EnsureUser creates the local actor name if it does not exist and makes
// token one of its bearer tokens, named UserFlagToken, replacing the
// previous token of that name (the tokens AddToken made stay). Only a hash
// of the token is stored. A token identifies one actor: giving another
// actor's token fails.
func (s *Store) EnsureUser(ctx context.Context, name, token string) error {
	if !validActorName(name) {
		return fmt.Errorf("activitypub: invalid user name %q: use 1 to 64 letters, digits, '_', '-' or '.'", name)
	}
	if token == "" {
		return fmt.Errorf("activitypub: user %q: empty token", name)
	}
	hash := hashToken(token)
	err := s.writeTokens(ctx, func(tx *dbTx, now time.Time) error {
		if err := ensureActor(ctx, tx, name, now); err != nil {
			return err
		}
		var owner, tokenName string
		err := tx.QueryRowContext(ctx, `SELECT actor, name FROM tokens WHERE hash = ?`, hash).Scan(&owner, &tokenName)
		switch {
		case err == nil && owner != name:
			return errors.New("its token is another user's")
		case err == nil && tokenName == UserFlagToken:
			return nil // already provisioned
		case err == nil:
			// A token AddToken made, now also given to --user: it
			// becomes the flag's, as it was given.
			if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE hash = ?`, hash); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE actor = ? AND name = ?`, name, UserFlagToken)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if err := bumpTokenGeneration(ctx, tx); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tokens (id, actor, name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, 0)`,
			newTokenID(), name, UserFlagToken, hash, now.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("activitypub: provisioning user %q: %w", name, err)
	}
	return nil
}

// AddToken makes a new bearer token for user, creating the actor if it does
// not exist, and returns it with its secret, which the store does not keep:
// this is the only time it is known. A positive ttl makes the token expire
// that long from now.
func (s *Store) AddToken(ctx context.Context, user, name string, ttl time.Duration) (Token, string, error) {
	if !validActorName(user) {
		return Token{}, "", fmt.Errorf("activitypub: invalid user name %q: use 1 to 64 letters, digits, '_', '-' or '.'", user)
	}
	if name == UserFlagToken {
		return Token{}, "", fmt.Errorf("activitypub: the token name %q is the --user flag's", name)
	}
	secret := newTokenSecret()
	t := Token{ID: newTokenID(), User: user, Name: name}
	err := s.writeTokens(ctx, func(tx *dbTx, now time.Time) error {
		t.Created = now
		if ttl > 0 {
			t.Expires = millis(now.Add(ttl))
		}
		if err := ensureActor(ctx, tx, user, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, actor, name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, user, name, hashToken(secret), now.UnixMilli(), unixMilliOrZero(t.Expires))
		return err
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("activitypub: adding a token for %q: %w", user, err)
	}
	return t, secret, nil
}

// RevokeToken deletes the token id: from then on it is refused, and a
// server using the store ends the streams it authenticates (see
// Server.RevocationCheck).
func (s *Store) RevokeToken(ctx context.Context, id string) (Token, error) {
	var t Token
	err := s.writeTokens(ctx, func(tx *dbTx, _ time.Time) error {
		tokens, err := listTokens(ctx, tx, `WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if len(tokens) == 0 {
			return ErrNoSuchToken
		}
		t = tokens[0]
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id); err != nil {
			return err
		}
		return bumpTokenGeneration(ctx, tx)
	})
	if err != nil {
		return Token{}, fmt.Errorf("activitypub: revoking token %q: %w", id, err)
	}
	return t, nil
}

// RevokeUserTokens deletes every token of user and returns them.
func (s *Store) RevokeUserTokens(ctx context.Context, user string) ([]Token, error) {
	var tokens []Token
	err := s.writeTokens(ctx, func(tx *dbTx, _ time.Time) error {
		var err error
		if tokens, err = listTokens(ctx, tx, `WHERE actor = ?`, user); err != nil {
			return err
		}
		if len(tokens) == 0 {
			return ErrNoSuchToken
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE actor = ?`, user); err != nil {
			return err
		}
		return bumpTokenGeneration(ctx, tx)
	})
	if err != nil {
		return nil, fmt.Errorf("activitypub: revoking the tokens of %q: %w", user, err)
	}
	return tokens, nil
}

// Tokens lists the tokens of user, or of every user if user is "", expired
// ones included, oldest first.
func (s *Store) Tokens(ctx context.Context, user string) ([]Token, error) {
	if user == "" {
		return listTokens(ctx, s.db, "")
	}
	return listTokens(ctx, s.db, `WHERE actor = ?`, user)
}

func listTokens(ctx context.Context, q querier, where string, args ...any) ([]Token, error) {
	return queryRows(ctx, q, "listing tokens", func(r rowScanner) (Token, error) {
		var t Token
		var created, expires int64
		if err := r.Scan(&t.ID, &t.User, &t.Name, &created, &expires); err != nil {
			return Token{}, err
		}
		t.Created = time.UnixMilli(created)
		if expires != 0 {
			t.Expires = time.UnixMilli(expires)
		}
		return t, nil
	}, `SELECT id, actor, name, created_at, expires_at FROM tokens `+where+` ORDER BY created_at, id`, args...)
}

// TokenGeneration is a number that every revocation increases, whichever
// process made it: a server polls it to learn cheaply that it must check the
// tokens of its open streams again.
func (s *Store) TokenGeneration(ctx context.Context) (uint64, error) {
	return readCounter(ctx, s.db, counterTokenGeneration)
}

// credentialFor looks up the token whose secret hashes to hash, with the
// token generation, in one statement so that they are consistent: a
// revocation committed after it has a later generation. An unknown or
// expired token is errNotFound.
func (s *Store) credentialFor(ctx context.Context, hash string) (credential, error) {
	var c credential
	var expires int64
	err := s.db.QueryRowContext(ctx, `
		SELECT t.actor, t.expires_at, g.value FROM tokens t, counters g
		WHERE t.hash = ? AND g.name = ?`, hash, counterTokenGeneration).Scan(&c.actor, &expires, &c.gen)
	if errors.Is(err, sql.ErrNoRows) {
		return credential{}, errNotFound
	}
	if err != nil {
		return credential{}, fmt.Errorf("activitypub: looking up token: %w", err)
	}
	c.hash = hash
	if expires != 0 {
		c.expires = time.UnixMilli(expires)
		if !time.Now().Before(c.expires) {
			return credential{}, errNotFound
		}
	}
	return c, nil
}

// writeTokens runs fn in a write transaction and commits it. Another
// process (subpub token) may be writing the same database: SQLite's busy
// timeout makes each wait for the other.
func (s *Store) writeTokens(ctx context.Context, fn func(tx *dbTx, now time.Time) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx, millis(time.Now())); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ensureActor creates the local actor name if it does not exist.
func ensureActor(ctx context.Context, tx *dbTx, name string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO actors (name, profile, created_at) VALUES (?, '{}', ?) ON CONFLICT (name) DO NOTHING`,
		name, now.UnixMilli())
	return err
}

func bumpTokenGeneration(ctx context.Context, tx *dbTx) error {
	_, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = ?`, counterTokenGeneration)
	return err
}

func unixMilliOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// migrateTokens moves the tokens of a database made before the tokens
// table, which kept one per actor in actors.token_hash, into it, and drops
// that column. It does nothing to a database that has none.
func (s *Store) migrateTokens(ctx context.Context) error {
	err := s.writeTokens(ctx, func(tx *dbTx, _ time.Time) error {
		rows, err := tx.QueryContext(ctx, `SELECT * FROM actors LIMIT 0`)
		if err != nil {
			return err
		}
		columns, err := rows.Columns()
		rows.Close()
		if err != nil || !slices.Contains(columns, "token_hash") {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO tokens (id, actor, name, hash, created_at, expires_at)
			SELECT 'tok_' || name, name, ?, token_hash, created_at, 0 FROM actors WHERE true
			ON CONFLICT DO NOTHING`, UserFlagToken); err != nil {
			return err
		}
		for _, stmt := range []string{`DROP INDEX IF EXISTS actors_token_hash`, `ALTER TABLE actors DROP COLUMN token_hash`} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("activitypub: moving tokens to their own table: %w", err)
	}
	return nil
}
