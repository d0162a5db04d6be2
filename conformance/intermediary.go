package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/setting"
)

// scriptedInlineLimit is the scripted upstream's inline limit in an
// intermediary run: high enough that the large events of the slow-subscriber
// check travel inline, as the bytes a slow subscriber holds up.
const scriptedInlineLimit = 64 << 10

// intermediaryRun is what the checks of an intermediary share: the scripted
// upstream, and a name for this run that prefixes every stream it uses, so
// that an intermediary's state from an earlier run (its rings, its lingering
// upstream subscriptions) plays no part.
type intermediaryRun struct {
	up  *ScriptedServer
	run string
	// relayed is what interim-handling/1 published and received, for
	// tiers/1 and collapsing-key/3 to look at.
	relayed *relayedStream
}

// relayedStream is a stream published upstream and followed through the
// intermediary.
type relayedStream struct {
	published []string // ids, in order
	sub       *recording
}

// path is the upstream path of one check's stream.
func (m *intermediaryRun) path(kind, name string) string {
	return "/" + kind + "/" + m.run + "-" + name
}

// proxied is the URL of an upstream path through the intermediary.
func (s *suiteRun) proxied(path string) string {
	u := *s.base
	u.Path, u.RawPath, u.RawQuery = path, "", ""
	return u.String()
}

// RunIntermediary tests the intermediary at cfg.URL: it serves a scripted
// upstream (at cfg.Upstream), tells cfg.Ready where, waits until the
// intermediary relays a subscription to it, and reports every check of
// [IntermediaryChecks].
func RunIntermediary(ctx context.Context, cfg Config) (*Report, error) {
	up := &ScriptedServer{InlineLimit: scriptedInlineLimit}
	if err := up.Start(setting.Or(cfg.Upstream, "127.0.0.1:0")); err != nil {
		return nil, err
	}
	defer up.Close()
	if cfg.Ready != nil {
		u, err := cfg.Ready(ctx, up.URL())
		if err != nil {
			return nil, err
		}
		if u != "" {
			cfg.URL = u
		}
	}
	s, err := newSuiteRun(cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	name := make([]byte, 4)
	rand.Read(name)
	s.mid = &intermediaryRun{up: up, run: "r" + hex.EncodeToString(name)}
	if err := s.waitPointed(ctx); err != nil {
		return nil, err
	}
	report := &Report{Role: "intermediary", Target: cfg.URL, Upstream: up.URL(), Started: time.Now().UTC()}
	runChecks(ctx, s, report, IntermediaryChecks())
	return report, nil
}

// waitPointed subscribes through the intermediary until the scripted
// upstream sees the subscription, bounded by cfg.Wait.
func (s *suiteRun) waitPointed(ctx context.Context) error {
	path := s.mid.path("public", "ready")
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, setting.Or(s.cfg.Wait, DefaultWait))
	defer cancel()
	var last error
	for {
		r, err := s.follow(ctx, client.HTTPAuto, client.ModeSUB, s.proxied(path), "")
		if err != nil {
			return err
		}
		r.waitUntil(ctx, s.cfg.timeout(), isOpen)
		r.stop()
		if s.mid.up.Subscriptions(path) > 0 {
			return nil
		}
		responses, _, err, _ := r.snapshot()
		last = fmt.Errorf("SUB %s: %s (%s)", s.proxied(path), describe(responses), errString(err))
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("cancelled while waiting for the intermediary at %s to relay a subscription to the scripted upstream %s", s.cfg.URL, s.mid.up.URL())
			}
			return errors.Join(fmt.Errorf("the intermediary at %s did not relay a subscription to the scripted upstream %s within %s", s.cfg.URL, s.mid.up.URL(), setting.Or(s.cfg.Wait, DefaultWait)), last)
		case <-time.After(time.Second):
		}
	}
}
