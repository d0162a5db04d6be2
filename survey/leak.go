package survey

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/subpub/subpub/client"
)

// How the connection-reuse check is run.
const (
	// secrets is how many private notes are sent to the first user while
	// the second one makes requests.
	secrets = 5
	// probes is how many requests the second user makes.
	probes = 20
	// probeTimeout bounds how long one of them is read.
	probeTimeout = 2 * time.Second
)

// Leak is what the connection-reuse check found.
type Leak struct {
	// Leaked says whether the second user received any of the first
	// user's private events.
	Leaked bool `json:"leaked"`
	// Evidence is the start of a response that carried one.
	Evidence string `json:"evidence,omitempty"`
	// Interim counts the anonymous user's responses that were interim
	// ones (a 105 or 106 of somebody's subscription), private or not.
	Interim int `json:"interim"`
	// Statuses counts the status lines the second user got, by line.
	Statuses map[string]int `json:"statuses"`
	// Error says why the check could not be made.
	Error string `json:"error,omitempty"`
}

// CheckLeak asks whether a proxy that forwards a private SUB over a pooled
// HTTP/1.1 upstream connection can hand that stream's events to another
// user. Alice subscribes to her inbox through f with SUB over HTTP/1.1 and
// her token; bob's private notes to her are then published while an
// anonymous user asks f, on connections of its own, for a public document.
// Any byte of her notes in the anonymous user's responses is a leak.
func CheckLeak(ctx context.Context, o *Origin, f *Front) Leak {
	result := Leak{Statuses: map[string]int{}}
	c, err := client.New(client.Options{
		Mode: client.ModeSUB, HTTP: client.HTTP11,
		Reconnect: client.Reconnect{Disabled: true}, KeepAliveTimeout: -1,
	})
	if err != nil {
		result.Error = err.Error()
		return result
	}
	defer c.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ended := make(chan error, 1)
	go func() {
		ended <- c.Run(runCtx, &client.Subscription{
			URL:     "http://" + f.Plain + privateStream,
			Header:  http.Header{"Authorization": {"Bearer " + publisherToken}},
			OnEvent: func(client.Event) {},
		})
	}()
	select {
	case <-ended:
	case <-time.After(settle):
	}

	marker := []byte(fmt.Sprintf("secret-%d", time.Now().UnixNano()))
	for i := range probes {
		if i < secrets {
			if err := o.publishPrivate(ctx, fmt.Sprintf("%s %d", marker, i)); err != nil {
				result.Error = "publishing: " + err.Error()
				return result
			}
		}
		response, err := probe(f.Plain)
		if err != nil {
			result.Statuses["error: "+err.Error()]++
			continue
		}
		status, _, _ := bytes.Cut(response, []byte("\r\n"))
		result.Statuses[string(status)]++
		if bytes.HasPrefix(status, []byte("HTTP/1.1 1")) {
			result.Interim++
		}
		if at := bytes.Index(response, marker); at >= 0 && !result.Leaked {
			result.Leaked = true
			result.Evidence = string(response[:min(len(response), at+64)])
		}
	}
	return result
}

// probe asks for the public document on a new connection, as an anonymous
// user, and returns every byte of the response (read until the proxy closes
// the connection or probeTimeout passes).
func probe(addr string) ([]byte, error) {
	conn, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(probeTimeout))
	request := "GET " + publicDocument + " HTTP/1.1\r\nHost: " + addr +
		"\r\nAccept: application/activity+json\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, request); err != nil {
		return nil, err
	}
	response, err := io.ReadAll(conn)
	if len(response) == 0 && err != nil {
		return nil, err
	}
	return response, nil
}
