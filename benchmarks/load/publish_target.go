package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/subpub/subpub/client"
)

// PublishTarget says how to publish one event to a system.
type PublishTarget struct {
	// Kind is PublishOrigin (POST the note to the outbox with
	// client.Publish), PublishBare (POST to the bare sender's control
	// endpoint) or PublishNchan (POST the event data, with its time first,
	// to nchan's publisher endpoint).
	Kind string `json:"kind"`
	URL  string `json:"url"`
	// Token and Body for the origin; Data for nchan.
	Token string `json:"token,omitempty"`
	Body  []byte `json:"body,omitempty"`
	Data  string `json:"data,omitempty"`
}

// Kinds of PublishTarget.
const (
	PublishOrigin = "origin"
	PublishBare   = "bare"
	PublishNchan  = "nchan"
)

// Open returns the function that publishes one event, and what
// releases its connections.
func (p PublishTarget) Open() (PublishFunc, func(), error) {
	switch p.Kind {
	case PublishOrigin:
		c, err := client.New(client.Options{HTTP: client.HTTP11})
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context) error {
			_, err := c.Publish(ctx, p.URL, p.Token, p.Body)
			return err
		}, func() { c.Close() }, nil
	case PublishBare, PublishNchan:
		transport := &http.Transport{MaxIdleConnsPerHost: DefaultMaxInFlight}
		hc := &http.Client{Transport: transport, Timeout: 30 * time.Second}
		return func(ctx context.Context) error {
			var body []byte
			if p.Kind == PublishNchan {
				body = nchanMessage(p.Data, time.Now())
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				return fmt.Errorf("publishing to %s: %s", p.URL, resp.Status)
			}
			return nil
		}, transport.CloseIdleConnections, nil
	}
	return nil, nil, fmt.Errorf("benchmarks: unknown publish target %q", p.Kind)
}

// nchanMessage is the event data with its publish time as the first JSON
// member, which the lean reader finds at the start of the data line: nchan
// relays a message's body as SSE data and has no field for the time.
func nchanMessage(data string, now time.Time) []byte {
	msg := []byte(`{"t":`)
	msg = strconv.AppendInt(msg, now.UnixMilli(), 10)
	if len(data) > 2 && data[0] == '{' {
		msg = append(msg, ',')
		msg = append(msg, data[1:]...)
	} else {
		msg = append(msg, '}')
	}
	return msg
}
