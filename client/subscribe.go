package client

import (
	"context"
	"iter"
)

// iteratorBuffer is how many events Subscribe holds for a slow loop body
// before it stops reading the connection.
const iteratorBuffer = 1024

// Subscribe follows rawURL with a Client made from opts and yields its
// events. The sequence ends when ctx is done, when the loop stops, or when the
// subscription ends for good; in the last case it yields one final pair with
// a zero Event and the reason (see Client.Run).
//
//	for ev, err := range client.Subscribe(ctx, url, client.Options{}) {
//		if err != nil { return err }
//		fmt.Println(ev.ID, ev.Type, string(ev.Data))
//	}
//
// A loop body slower than the stream applies backpressure to the connection;
// a process following many streams should share a Client and use Run.
func Subscribe(ctx context.Context, rawURL string, opts Options) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		c, err := New(opts)
		if err != nil {
			yield(Event{}, err)
			return
		}
		defer c.Close()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		events := make(chan Event, iteratorBuffer)
		done := make(chan error, 1)
		go func() {
			done <- c.Run(ctx, &Subscription{
				URL:         rawURL,
				LastEventID: opts.LastEventID,
				OnEvent: func(e Event) {
					select {
					case events <- e:
					case <-ctx.Done():
					}
				},
			})
		}()
		for {
			select {
			case e := <-events:
				if !yield(e, nil) {
					cancel()
					<-done
					return
				}
			case err := <-done:
				for len(events) > 0 {
					if !yield(<-events, nil) {
						return
					}
				}
				if ctx.Err() == nil || err != ctx.Err() {
					yield(Event{}, err)
				}
				return
			}
		}
	}
}
