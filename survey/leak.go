package survey

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// How the connection-reuse check is run.
const (
	// secrets is how many private notes are sent to the first user in
	// each phase, while the second one makes requests.
	secrets = 5
	// probes is how many requests the second user makes in each phase, at
	// most: a phase ends at its first leak.
	probes = 10
	// probeTimeout bounds how long one of them is read.
	probeTimeout = 2 * time.Second
)

// Leak is what the connection-reuse check found, in its two phases: while
// the first user is subscribed, and once she has gone (closed her
// connection to the proxy, which may then put the upstream connection that
// still carries her stream back in its pool).
type Leak struct {
	While Exposure `json:"while_subscribed"`
	After Exposure `json:"after_she_left"`
	// Public is the same as After for an anonymous subscriber to a public
	// stream: a proxy may keep a connection that carried a request with
	// credentials to that request's client, and pool the others.
	Public Exposure `json:"public_after_left"`
	// Error says why the check could not be made.
	Error string `json:"error,omitempty"`
}

// Leaked says whether either phase leaked.
func (l *Leak) Leaked() bool { return l.While.Leaked || l.After.Leaked || l.Public.Leaked }

// Exposure is what the second user received in one phase.
type Exposure struct {
	// Leaked says whether the second user received any of the first
	// user's private events.
	Leaked bool `json:"leaked"`
	// Evidence is the start of a response that carried one.
	Evidence string `json:"evidence,omitempty"`
	// Interim counts the second user's responses that were interim ones
	// (a 105 or 106 of somebody's subscription), private or not.
	Interim int `json:"interim"`
	// Statuses counts the status lines the second user got, by line.
	Statuses map[string]int `json:"statuses"`
}

// CheckLeak asks whether a proxy that forwards a private SUB over a pooled
// HTTP/1.1 upstream connection can hand that stream's events to another
// user. Alice subscribes to her inbox through f with SUB over HTTP/1.1 and
// her token; bob's private notes to her are then published while an
// anonymous user asks f, on connections of its own, for a public document;
// then alice closes her connection, and the same is done again. Any byte
// of her notes in the anonymous user's responses is a leak.
func CheckLeak(ctx context.Context, o *Origin, f *Front) Leak {
	var result Leak
	marker := fmt.Sprintf("secret-%d", time.Now().UnixNano())
	private := func(i int) error { return o.publishPrivate(ctx, fmt.Sprintf("%s %d", marker, i)) }
	leave, err := subscribeSUB(ctx, "http://"+f.Plain+privateStream, http.Header{"Authorization": {"Bearer " + publisherToken}})
	if err != nil {
		result.Error = err.Error()
		return result
	}
	result.While, err = expose(f, marker, 0, private)
	leave()
	if err == nil {
		result.After, err = expose(f, marker, secrets, private)
	}
	if err != nil {
		result.Error = err.Error()
	}
	return result
}

// CheckPublicLeak does as CheckLeak's second phase for an anonymous
// subscriber to alice's public outbox, with public notes: whether a later
// request receives that stream's PUBs once its subscriber has gone. Run on
// a proxy of its own, so that no stream of CheckLeak's is in its pool.
func CheckPublicLeak(ctx context.Context, o *Origin, f *Front) (Exposure, error) {
	marker := fmt.Sprintf("public-%d", time.Now().UnixNano())
	leave, err := subscribeSUB(ctx, "http://"+f.Plain+publicStream, nil)
	if err != nil {
		return Exposure{}, err
	}
	leave()
	return expose(f, marker, 0, func(i int) error {
		return o.publishPublic(ctx, fmt.Sprintf("%s %d", marker, i))
	})
}

// subscribeSUB follows target with SUB over HTTP/1.1 for settle, and
// returns the function that closes the subscriber's connection.
func subscribeSUB(ctx context.Context, target string, header http.Header) (leave func(), err error) {
	ended, leave, err := followQuietly(ctx, target, header)
	if err != nil {
		return nil, err
	}
	select {
	case <-ended:
	case <-time.After(settle):
	}
	return leave, nil
}

// expose calls publish for notes numbered from first between the
// anonymous user's first requests, and records what those requests
// received: a leak if one carried marker.
func expose(f *Front, marker string, first int, publish func(i int) error) (Exposure, error) {
	e := Exposure{Statuses: map[string]int{}}
	for i := range probes {
		if i < secrets {
			if err := publish(first + i); err != nil {
				return e, fmt.Errorf("publishing: %w", err)
			}
		}
		response, err := probe(f.Plain)
		if err != nil {
			e.Statuses["error: "+err.Error()]++
			continue
		}
		status, _, _ := bytes.Cut(response, []byte("\r\n"))
		e.Statuses[string(status)]++
		if bytes.HasPrefix(status, []byte("HTTP/1.1 1")) {
			e.Interim++
		}
		if at := bytes.Index(response, []byte(marker)); at >= 0 {
			e.Leaked = true
			e.Evidence = string(response[:min(len(response), at+64)])
			break
		}
	}
	return e, nil
}

// probe asks for the public document (which the scripted upstream of the
// alternatives does not stream either) on a new connection, as an
// anonymous user, and returns every byte of the response (read until the proxy closes
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
