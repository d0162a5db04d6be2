package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// The bounds the servers are given, their documented defaults: how often
// the origin looks for revoked tokens (--revocation-check), and how old an
// edge's authorization of a private stream may be when it admits a
// subscriber (--auth-max-age).
const (
	revocationCheck = time.Second
	authMaxAge      = 5 * time.Second
)

// Bounds the revocation is judged by: its streams end within
// revokedStreamsEnd (the origin ends them at its next check, and each edge
// relays the 401 at once), and nobody joins later than revokedJoinsRefused
// after it (a decision taken just before the revocation admits for
// authMaxAge; the origin's check adds its period).
const (
	revokedStreamsEnd   = 5 * time.Second
	revokedJoinsRefused = authMaxAge + revocationCheck
	// joinEvery is how often a subscriber with the revoked token tries to
	// join; joinsFor how long after the revocation it goes on trying.
	joinEvery = 250 * time.Millisecond
	joinsFor  = revokedJoinsRefused + 2*time.Second
)

// RevocationResult is what the revocation did.
type RevocationResult struct {
	Pass bool `json:"pass"`
	// Subscribers are the private subscriptions open with the token when
	// it was revoked; Ended401 those that ended with 401 in the end, and
	// EndMS how long after the revocation each one's stream ended (-1: it
	// did not): a SUB with the 401 itself, an SSE stream closed, its
	// client then refused with 401 when it comes back after the stream's
	// retry delay.
	Subscribers []string  `json:"subscribers"`
	Ended401    int       `json:"ended_401"`
	EndMS       []float64 `json:"end_ms"`
	// DeliveredAfterEnd counts events published after the revocation plus
	// revokedStreamsEnd that a revoked subscription received.
	DeliveredAfterEnd int `json:"delivered_after_end"`
	// Joins tried with the token after the revocation; JoinsAdmittedLate
	// those admitted after revokedJoinsRefused; LastAdmittedMS and
	// FirstRefusedMS when the last was admitted and the first refused.
	Joins             int     `json:"joins"`
	JoinsRefused401   int     `json:"joins_refused_401"`
	JoinsAdmittedLate int     `json:"joins_admitted_late"`
	LastAdmittedMS    float64 `json:"last_admitted_ms"`
	FirstRefusedMS    float64 `json:"first_refused_ms"`
	Error             string  `json:"error,omitempty"`
}

// privateWays are the private subscriptions opened with the token that is
// revoked: through both edges on every protocol, and at the first edge.
var privateWays = []struct {
	server string
	way    testkit.Way
}{
	{Edge2, testkit.EveryWay[1]}, // SUB over HTTP/2
	{Edge2, testkit.EveryWay[0]}, // SUB over HTTP/1.1
	{Edge2, testkit.EveryWay[2]}, // SUB over HTTP/3
	{Edge2, testkit.EveryWay[3]}, // SSE over HTTP/1.1
	{Edge1, testkit.EveryWay[1]},
}

// tokenCommand runs `subpub token ARGS...` on the origin's data directory.
func tokenCommand(ctx context.Context, origin *server, args ...string) (string, error) {
	bin, err := launch.Binary()
	if err != nil {
		return "", err
	}
	argv := append([]string{"token"}, args...)
	argv = append(argv, "--data", origin.dataDir)
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("subpub token %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// addToken makes a token of alice's named name and returns its id and
// secret.
func addToken(ctx context.Context, origin *server, name string) (id, secret string, err error) {
	out, err := tokenCommand(ctx, origin, "add", "--user", user, "--name", name, "--expires", "24h")
	if err != nil {
		return "", "", err
	}
	secret = strings.TrimSpace(out)
	list, err := tokenCommand(ctx, origin, "list")
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == user && f[2] == name {
			id = f[0]
		}
	}
	if id == "" || secret == "" {
		return "", "", fmt.Errorf("subpub token list shows no token %q:\n%s", name, list)
	}
	return id, secret, nil
}

// revocation opens private subscriptions to alice's own view of her
// outbox with a token of hers, through both edges, then revokes the token
// with `subpub token revoke` and tries to join with it again and again.
func revocation(ctx context.Context, t *tiers) RevocationResult {
	var res RevocationResult
	fail := func(err error) RevocationResult {
		res.Error = err.Error()
		return res
	}
	id, secret, err := addToken(ctx, t.origin, "chaos-private")
	if err != nil {
		return fail(err)
	}
	header := http.Header{"Authorization": {"Bearer " + secret}}
	type private struct {
		sub  *subscriber
		done chan error
		// ends are when its streams ended: each failed attempt (SSE
		// comes back after the stream's retry delay to be refused), and
		// Run's return. Under sub.mu.
		ends []time.Time
	}
	var privates []*private
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, pw := range privateWays {
		srv := t.byName(pw.server)
		opts := pw.way.Options
		opts.CAFile = srv.caFile
		c, err := client.New(opts)
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		p := &private{sub: &subscriber{server: pw.server, way: pw.way}, done: make(chan error, 1)}
		privates = append(privates, p)
		res.Subscribers = append(res.Subscribers, pw.way.Name+" at "+pw.server)
		go func() {
			err := c.Run(ctx, &client.Subscription{
				URL: srv.url(outboxPath), Header: header, OnEvent: p.sub.onEvent,
				OnOpen: func(o client.Open) {
					p.sub.mu.Lock()
					if shared, ok := wire.ParseSharing(o.Header); ok && !shared {
						p.sub.opened++
					}
					p.sub.mu.Unlock()
				},
				OnRetry: func(error, time.Duration) {
					p.sub.mu.Lock()
					p.ends = append(p.ends, time.Now())
					p.sub.mu.Unlock()
				},
			})
			p.sub.mu.Lock()
			p.ends = append(p.ends, time.Now())
			p.sub.mu.Unlock()
			p.done <- err
		}()
	}
	// Established, private, and receiving.
	for _, p := range privates {
		if !waitUntil(ctx, openTimeout, func() bool { return p.sub.isOpen() && len(p.sub.received()) > 0 }) {
			return fail(fmt.Errorf("the private subscription %s at %s was not established as private, or received nothing", p.sub.way.Name, p.sub.server))
		}
	}

	if _, err := tokenCommand(ctx, t.origin, "revoke", id); err != nil {
		return fail(err)
	}
	revoked := time.Now()
	joins := make(chan []joinAttempt, 1)
	go func() { joins <- joinRepeatedly(ctx, t.edge2, header, revoked, joinEvery, joinsFor) }()

	for _, p := range privates {
		var err error
		select {
		case err = <-p.done:
		case <-time.After(revokedStreamsEnd + joinsFor):
			res.EndMS = append(res.EndMS, -1)
			continue
		}
		var se *wire.StatusError
		if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
			res.Ended401++
		}
		p.sub.mu.Lock()
		for _, end := range p.ends {
			if end.After(revoked) {
				res.EndMS = append(res.EndMS, msSince(revoked, end))
				break
			}
		}
		for _, d := range p.sub.got {
			if d.pub.After(revoked.Add(revokedStreamsEnd)) {
				res.DeliveredAfterEnd++
			}
		}
		p.sub.mu.Unlock()
	}
	res.LastAdmittedMS, res.FirstRefusedMS = -1, -1
	for _, a := range <-joins {
		res.Joins++
		ms := float64(a.after.Microseconds()) / 1000
		switch {
		case a.admitted:
			res.LastAdmittedMS = max(res.LastAdmittedMS, ms)
			if a.after > revokedJoinsRefused {
				res.JoinsAdmittedLate++
			}
		case a.status == http.StatusUnauthorized:
			res.JoinsRefused401++
			if res.FirstRefusedMS < 0 || ms < res.FirstRefusedMS {
				res.FirstRefusedMS = ms
			}
		}
	}
	ended := true
	for _, ms := range res.EndMS {
		ended = ended && ms >= 0 && ms <= float64(revokedStreamsEnd.Milliseconds())
	}
	res.Pass = ended && res.Ended401 == len(privates) && res.DeliveredAfterEnd == 0 &&
		res.JoinsAdmittedLate == 0 && res.JoinsRefused401 > 0 && res.Error == ""
	return res
}

// msSince is the milliseconds from t0 to t.
func msSince(t0, t time.Time) float64 { return float64(t.Sub(t0).Microseconds()) / 1000 }
