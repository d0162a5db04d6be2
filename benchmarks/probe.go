package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/subpub/subpub/client"
)

// EventSample is one event of the workload as the origin emits it, and its
// size in each encoding: what the bare sender and nchan send, and what the
// report calls the event's size on the wire (before HTTP framing, header
// compression, TLS and transport headers).
type EventSample struct {
	Type string `json:"type"`
	Data string `json:"data"`
	// ActivityBytes is the posted activity; DataBytes the event's data.
	ActivityBytes int `json:"activity_bytes"`
	DataBytes     int `json:"data_bytes"`
	// SSEBytes is the event as one text/event-stream frame.
	SSEBytes int `json:"sse_bytes"`
	// PUBBytes is the event as the fields of a 105 response
	// ("Event: ...\r\nEvent-Data: ...\r\n"), without the status line.
	PUBBytes int `json:"pub_bytes"`
}

// probeEvent starts an origin, subscribes to the outbox with SUB, posts one
// note and returns the event it emitted.
func probeEvent(ctx context.Context, env *environment) (EventSample, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	d, err := deploy(ctx, env, System{Name: "probe", Server: serverOrigin}, 0)
	if err != nil {
		return EventSample{}, err
	}
	defer d.stop()
	c, err := client.New(client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11})
	if err != nil {
		return EventSample{}, err
	}
	defer c.Close()
	opened := make(chan struct{}, 1)
	got := make(chan client.Event, 1)
	subCtx, stop := context.WithCancel(ctx)
	defer stop()
	go c.Run(subCtx, &client.Subscription{
		URL:    d.origin.PlainURL(outboxPath),
		OnOpen: func(client.Open) { opened <- struct{}{} },
		OnEvent: func(e client.Event) {
			select {
			case got <- e:
			default:
			}
		},
	})
	select {
	case <-opened:
	case <-ctx.Done():
		return EventSample{}, fmt.Errorf("probe: subscribing: %w", ctx.Err())
	}
	publish, closePublish, err := d.publish.Open()
	if err != nil {
		return EventSample{}, err
	}
	defer closePublish()
	if err := publish(ctx); err != nil {
		return EventSample{}, fmt.Errorf("probe: publishing: %w", err)
	}
	select {
	case e := <-got:
		f := e.Frame()
		fields, err := f.PUB()
		if err != nil {
			return EventSample{}, err
		}
		if e.Time.IsZero() {
			return EventSample{}, errors.New("probe: the event carries no publish time")
		}
		return EventSample{
			Type:          e.Type,
			Data:          string(e.Data),
			ActivityBytes: len(d.publish.Body),
			DataBytes:     len(e.Data),
			SSEBytes:      len(f.SSE()),
			PUBBytes:      len("Event: \r\nEvent-Data: \r\n") + len(fields.Event) + len(fields.EventData),
		}, nil
	case <-ctx.Done():
		return EventSample{}, fmt.Errorf("probe: waiting for the event: %w", ctx.Err())
	}
}
