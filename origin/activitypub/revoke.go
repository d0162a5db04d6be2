package activitypub

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// DefaultRevocationCheck is how often a Server looks for revoked tokens
// while it serves authenticated subscriptions (Server.RevocationCheck).
const DefaultRevocationCheck = time.Second

// guardedFeed is the feed of a subscription made with a bearer token. It
// serves what its feed does until the server finds the token revoked or
// expired; from then on it reports that, so the subscription ends with a
// final 401 (SUB) or its event stream closes (SSE), and nothing more is
// delivered.
type guardedFeed struct {
	stream.Feed
	srv  *Server
	key  string // the Hub stream the feed reads
	cred credential

	ended atomic.Pointer[wire.StatusError]

	// checkedGen is the token generation the credential was last found
	// valid at. Guarded by Server.guardMu.
	checkedGen uint64
}

var _ stream.PositionedFeed = (*guardedFeed)(nil)

// Next implements stream.Feed.
func (g *guardedFeed) Next(buf []*wire.Frame) ([]*wire.Frame, <-chan struct{}, error) {
	if err := g.ended.Load(); err != nil {
		return buf, nil, err
	}
	return g.Feed.Next(buf)
}

// Position implements stream.PositionedFeed.
func (g *guardedFeed) Position() string {
	if p, ok := g.Feed.(stream.PositionedFeed); ok {
		return p.Position()
	}
	return ""
}

// Close implements stream.Feed.
func (g *guardedFeed) Close() {
	g.srv.untrack(g)
	g.Feed.Close()
}

// end makes the feed report err from its next read, and has it read now.
func (g *guardedFeed) end(err *wire.StatusError) {
	if g.ended.CompareAndSwap(nil, err) {
		g.srv.hub().Wake(g.key)
	}
}

// guard wraps the feed of a subscription made with cred, so that it ends
// when cred is revoked or expires.
func (s *Server) guard(feed stream.Feed, key string, cred credential) stream.Feed {
	if cred.hash == "" {
		return feed // anonymous: nothing to revoke
	}
	g := &guardedFeed{Feed: feed, srv: s, key: key, cred: cred, checkedGen: cred.gen}
	s.guardMu.Lock()
	defer s.guardMu.Unlock()
	if s.guarded == nil {
		s.guarded = make(map[*guardedFeed]struct{})
	}
	s.guarded[g] = struct{}{}
	if len(s.guarded) == 1 {
		s.scheduleCredentialCheckLocked()
	}
	return g
}

func (s *Server) untrack(g *guardedFeed) {
	s.guardMu.Lock()
	defer s.guardMu.Unlock()
	delete(s.guarded, g)
}

// scheduleCredentialCheckLocked arms the check, which runs only while there
// are authenticated subscriptions, so an idle server polls nothing.
func (s *Server) scheduleCredentialCheckLocked() {
	period := setting.Or(s.RevocationCheck, DefaultRevocationCheck)
	if s.credentialCheck == nil {
		s.credentialCheck = time.AfterFunc(period, s.checkCredentials)
	} else {
		s.credentialCheck.Reset(period)
	}
}

// errTokenEnded is the final response of a subscription whose token was
// revoked or expired after it began.
func errTokenEnded(expired bool) *wire.StatusError {
	if expired {
		return errUnauthorized("the bearer token has expired", true)
	}
	return errUnauthorized("the bearer token has been revoked", true)
}

// checkCredentials ends the authenticated subscriptions whose token has
// expired, and, when the token generation has changed since their token was
// last found valid (a token was revoked, by this process or another), looks
// their tokens up again and ends those whose token is gone. Polling one
// counter is what it costs while nothing is revoked.
func (s *Server) checkCredentials() {
	s.guardMu.Lock()
	feeds := make([]*guardedFeed, 0, len(s.guarded))
	for g := range s.guarded {
		feeds = append(feeds, g)
	}
	s.guardMu.Unlock()
	defer func() {
		s.guardMu.Lock()
		defer s.guardMu.Unlock()
		if len(s.guarded) > 0 {
			s.scheduleCredentialCheckLocked()
		}
	}()
	if len(feeds) == 0 {
		return
	}

	now := time.Now()
	var stale []*guardedFeed
	for _, g := range feeds {
		if !g.cred.expires.IsZero() && !now.Before(g.cred.expires) {
			g.end(errTokenEnded(true))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), setting.Or(s.RevocationCheck, DefaultRevocationCheck)*5)
	defer cancel()
	// Read before the tokens, so that a revocation committed while they
	// are read is seen at the next check if not at this one.
	gen, err := s.Store.TokenGeneration(ctx)
	if err != nil {
		s.log.Warn("checking for revoked tokens", "err", err)
		return
	}
	s.guardMu.Lock()
	for _, g := range feeds {
		if g.checkedGen != gen {
			stale = append(stale, g)
		}
	}
	s.guardMu.Unlock()
	valid := make(map[string]bool) // by token hash
	for _, g := range stale {
		ok, known := valid[g.cred.hash]
		if !known {
			c, err := s.Store.credentialFor(ctx, g.cred.hash)
			switch {
			case errors.Is(err, errNotFound):
				ok = false
			case err != nil:
				s.log.Warn("checking for revoked tokens", "err", err)
				return
			default:
				ok = c.actor == g.cred.actor
			}
			valid[g.cred.hash] = ok
		}
		if !ok {
			g.end(errTokenEnded(false))
			continue
		}
		s.guardMu.Lock()
		g.checkedGen = gen
		s.guardMu.Unlock()
	}
}
