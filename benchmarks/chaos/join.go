package chaos

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// joinTimeout bounds the wait for one join's answer.
const joinTimeout = 10 * time.Second

// joinAttempt is what one attempt to join a stream met.
type joinAttempt struct {
	after    time.Duration // from the reference time to the attempt
	admitted bool          // the subscription was established
	status   int           // else the final status that refused it (0: none)
	err      error
}

// joinRepeatedly subscribes to the outbox through srv with header, by SUB
// over HTTP/2, every `every` from t0 for span, each attempt once (no
// resumption) and ended as soon as it is established, and returns what
// each met once all have been answered.
func joinRepeatedly(ctx context.Context, srv *server, header http.Header, t0 time.Time, every, span time.Duration) []joinAttempt {
	c, err := client.New(client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2, CAFile: srv.caFile, Reconnect: client.Reconnect{Disabled: true}})
	if err != nil {
		return []joinAttempt{{err: err}}
	}
	defer c.Close()
	var (
		mu       sync.Mutex
		attempts []joinAttempt
		all      sync.WaitGroup
	)
	for at := t0; at.Sub(t0) < span && ctx.Err() == nil; at = at.Add(every) {
		time.Sleep(time.Until(at))
		after := time.Since(t0)
		all.Go(func() {
			jctx, cancel := context.WithTimeout(ctx, joinTimeout)
			defer cancel()
			var admitted atomic.Bool
			err := c.Run(jctx, &client.Subscription{
				URL: srv.url(outboxPath), Header: header, OnEvent: func(client.Event) {},
				OnOpen: func(client.Open) { admitted.Store(true); cancel() },
			})
			a := joinAttempt{after: after, admitted: admitted.Load(), err: err}
			var se *wire.StatusError
			if errors.As(err, &se) {
				a.status = se.Status
			}
			mu.Lock()
			attempts = append(attempts, a)
			mu.Unlock()
		})
	}
	all.Wait()
	return attempts
}
