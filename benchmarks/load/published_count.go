package load

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// Which events belong to the window is decided by their publish time, which
// the server stamps. A publication accepted late (a server too busy to
// answer at once) may carry a time on the other side of a bound from when
// it was sent, so the events of the window are counted where the times are:
// in the origin's durable log, replayed from its start after the run (each
// point has a fresh origin), or by the bare sender. nchan's events carry the
// publisher's own time, so the publisher's count is exact there.

// replayTimeout bounds each of the two subscriptions of a count.
const replayTimeout = time.Minute

// CountPublished counts the events published in w to the system behind p,
// or returns ok false when only the publisher knows.
func CountPublished(ctx context.Context, p PublishTarget, w Window) (n int64, ok bool, err error) {
	switch p.Kind {
	case PublishOrigin:
		n, err := replayCount(ctx, p.URL, w)
		return n, err == nil, err
	case PublishBare:
		u, err := url.Parse(p.URL)
		if err != nil {
			return 0, false, err
		}
		st, err := FetchBareStats(ctx, u.Host, w)
		return st.InWindow, err == nil, err
	}
	return 0, false, nil
}

// replayCount counts the events of w in the log of the stream at streamURL:
// it learns the id of the log's last event, then replays the log from its
// start up to that event. Ending at a known id rather than at a quiet spell
// keeps the count exact when the machine is too busy to keep the replay
// flowing.
func replayCount(ctx context.Context, streamURL string, w Window) (int64, error) {
	c, err := client.New(client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	head, err := logHead(ctx, c, streamURL)
	if err != nil || head == "" {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	var n int64
	reached := false
	sub := &client.Subscription{URL: streamURL, LastEventID: "0", OnEvent: func(e client.Event) {
		if w.contains(e.Time.UnixMilli()) {
			n++
		}
		if e.ID == head {
			reached = true
			cancel()
		}
	}}
	err = c.Run(ctx, sub)
	if reached {
		return n, nil
	}
	return 0, fmt.Errorf("replaying the log up to event %s: %w", head, cmp.Or(err, ctx.Err()))
}

// logHead is the id of the last event in the log of the stream at
// streamURL, as the first 106 of a subscription without Last-Event-ID names
// it; "" for an empty log.
func logHead(ctx context.Context, c *client.Client, streamURL string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	var head string
	opened := false
	sub := &client.Subscription{URL: streamURL, OnEvent: func(client.Event) {}, OnOpen: func(o client.Open) {
		if e, err := wire.DecodePUB(o.Header); err == nil {
			head = e.ID
		}
		opened = true
		cancel()
	}}
	err := c.Run(ctx, sub)
	if opened {
		return head, nil
	}
	return "", fmt.Errorf("learning where the log ends: %w", cmp.Or(err, ctx.Err()))
}

// windowQuery is the window as the bare sender's stats endpoint takes it.
func windowQuery(w Window) string {
	return "?start=" + strconv.FormatInt(w.StartMS, 10) + "&end=" + strconv.FormatInt(w.EndMS, 10)
}
