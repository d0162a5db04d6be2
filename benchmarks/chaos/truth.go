package chaos

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/subpub/subpub/client"
)

// outboxPath is the stream every subscriber follows.
const outboxPath = "/users/" + user + "/outbox"

// logReadTimeout bounds reading the log back, and posting the note that
// ends it.
const logReadTimeout = 2 * time.Minute

// noteBody is a public note.
func noteBody(content string) []byte {
	return fmt.Appendf(nil, `{"type":"Note","content":%q,"to":["https://www.w3.org/ns/activitystreams#Public"]}`, content)
}

// poster posts alice's notes to the origin, in cleartext over HTTP/1.1.
type poster struct {
	c      *client.Client
	origin *server
}

func newPoster() (*poster, error) {
	c, err := client.New(client.Options{HTTP: client.HTTP11})
	return &poster{c: c}, err
}

// post posts a note and returns the id of its Create activity, which the
// outbox's event for it holds.
func (p *poster) post(ctx context.Context, content string) (string, error) {
	return p.c.Publish(ctx, p.origin.plainURL(outboxPath), userToken, noteBody(content))
}

// postSurely posts a note, trying again while the origin is down or busy.
func (p *poster) postSurely(ctx context.Context, content string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, logReadTimeout)
	defer cancel()
	for {
		activity, err := p.post(ctx, content)
		if err == nil || ctx.Err() != nil {
			return activity, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// follow subscribes at the origin over HTTP/2 from after lastID ("": from
// now) until an event holding activity arrives, and returns the events'
// ids up to it. before, if set, runs once the subscription is established,
// to post what it waits for.
func (p *poster) follow(ctx context.Context, lastID, activity string, before func() (string, error)) ([]uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, logReadTimeout)
	defer cancel()
	c, err := client.New(client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: p.origin.caFile})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	events := make(chan client.Event, 1024)
	opened := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, &client.Subscription{
			URL: p.origin.url(outboxPath), LastEventID: lastID,
			OnOpen: func(client.Open) {
				select {
				case opened <- struct{}{}:
				default:
				}
			},
			OnEvent: func(e client.Event) {
				select {
				case events <- e:
				case <-ctx.Done():
				}
			},
		})
	}()
	if before != nil {
		select {
		case <-opened:
		case err := <-done:
			return nil, fmt.Errorf("reading the log: %v", err)
		}
		if activity, err = before(); err != nil {
			return nil, err
		}
	}
	var ids []uint64
	for {
		select {
		case e := <-events:
			if e.IsGap() {
				return nil, fmt.Errorf("reading the log from %s: the origin sent a gap to %s", lastID, e.ID)
			}
			id, err := strconv.ParseUint(e.ID, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("reading the log: event id %q is not a sequence number", e.ID)
			}
			ids = append(ids, id)
			if bytes.Contains(e.Data, []byte(strconv.Quote(activity))) {
				return ids, nil
			}
		case err := <-done:
			return nil, fmt.Errorf("reading the log: %v", err)
		}
	}
}

// baseline posts a note and returns its event's id: the subscribers,
// established after it, should receive every event after it.
func (p *poster) baseline(ctx context.Context) (uint64, error) {
	ids, err := p.follow(ctx, "", "", func() (string, error) { return p.postSurely(ctx, "before the run") })
	if err != nil {
		return 0, err
	}
	return ids[len(ids)-1], nil
}

// expected posts a last note and reads the log from after the baseline to
// it: the events every subscriber should have received, in order.
func (p *poster) expected(ctx context.Context, baseline uint64) ([]uint64, error) {
	last, err := p.postSurely(ctx, "the end of the run")
	if err != nil {
		return nil, fmt.Errorf("posting the last note: %w", err)
	}
	return p.follow(ctx, strconv.FormatUint(baseline, 10), last, nil)
}
