package edge

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/relay"
	"github.com/subpub/subpub/wire"
)

// DefaultAuthMaxAge is how old the upstream's authorization of a private
// stream may be when the edge admits another subscriber to it (see
// Edge.AuthMaxAge).
const DefaultAuthMaxAge = 5 * time.Second

// authorization is what the edge knows of the upstream's decision to serve
// a private stream to the credentials its key is a digest of: when the
// upstream last said yes, and the check under way, if any. It is per
// upstream subscription, so per target URI and credential digest.
type authorization struct {
	mu    sync.Mutex
	at    time.Time  // when the upstream last admitted the credentials
	check *authCheck // in flight, shared by the subscribers waiting for it
}

type authCheck struct {
	done chan struct{}
	err  error
}

// admitted records a decision of the upstream in favour of the credentials,
// made at the latest at t: the acknowledgement of a subscription, or a
// check that succeeded.
func (a *authorization) admitted(t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.After(a.at) {
		a.at = t
	}
}

// private reports whether the stream's subscribers are admitted on their
// credentials: it is not shareable and was opened with some.
func private(u *relay.Upstream) bool {
	return !sharedOf(u).policy.shareable && hasCredentials(u.Header())
}

// authorize admits a subscriber to u, a private stream it joins rather than
// opens, only on a decision of the upstream no older than AuthMaxAge: when
// the last one is older, it asks the upstream again (one request for every
// subscriber joining meanwhile). A refusal of the credentials (401, 403)
// also ends the stream for every subscriber it has, with that answer.
func (e *Edge) authorize(ctx context.Context, u *relay.Upstream) error {
	if !private(u) {
		return nil
	}
	maxAge := setting.Or(e.AuthMaxAge, DefaultAuthMaxAge)
	a := &sharedOf(u).auth
	a.mu.Lock()
	if time.Since(a.at) <= maxAge {
		a.mu.Unlock()
		return nil
	}
	c := a.check
	if c == nil {
		c = &authCheck{done: make(chan struct{})}
		a.check = c
		a.mu.Unlock()
		started := time.Now()
		c.err = e.checkAuthorization(u)
		a.mu.Lock()
		a.check = nil
		a.mu.Unlock()
		switch {
		case c.err == nil:
			a.admitted(started)
			e.metrics().AuthorizationCheck("allowed")
		case refusesCredentials(c.err):
			e.metrics().AuthorizationCheck("refused")
			u.End(relay.Error(c.err))
		default:
			e.metrics().AuthorizationCheck("failed")
		}
		close(c.done)
		return c.err
	}
	a.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkAuthorization asks the upstream whether u's credentials may still
// read its stream, without subscribing: HEAD with the Accept of an event
// stream, which subpub's origin answers as it would begin a GET for it
// (and an edge passes upstream).
func (e *Edge) checkAuthorization(u *relay.Upstream) error {
	ctx, cancel := context.WithTimeout(u.Context(), setting.Or(e.ConnectTimeout, DefaultConnectTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.URI(), nil)
	if err != nil {
		return err
	}
	req.Header = u.Header().Clone()
	req.Header.Set("Accept", wire.ContentTypeSSE)
	resp, err := e.transport.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return relay.ErrTimeout
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &wire.StatusError{
		Status: resp.StatusCode,
		Detail: "upstream: " + http.StatusText(resp.StatusCode) + " (checking the credentials of a private stream)",
		Header: resp.Header,
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		se.RetryAfter = time.Duration(s) * time.Second
	}
	return se
}

// refusesCredentials reports whether the upstream's answer refuses the
// credentials themselves: they no longer may read the stream.
func refusesCredentials(err error) bool {
	se, ok := err.(*wire.StatusError)
	return ok && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden)
}
