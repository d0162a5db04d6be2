package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// TestAccessLog: with --access-log, each request is one line, once
// answered: a subscription's line says how many events it delivered and
// how it ended, over HTTP/1.1, HTTP/2 and HTTP/3, SUB and SSE alike; an
// ordinary response's, its status and bytes. No line holds a token, though
// the SSE subscriptions and the GET carry theirs in the URL (the lines show
// the parameter, masked) and the SUBs in Authorization.
func TestAccessLog(t *testing.T) {
	const token = "alice-token"
	var log testkit.LogBuffer
	o, err := launch.Start(t.Context(), "origin", launch.Options{Stderr: &log},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", t.TempDir(),
		"--user", "alice:"+token, "--max-per-client", "-1", "--access-log", "--log-format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var followers []*testkit.Follower
	for _, way := range testkit.EveryWay {
		opts := way.Options
		opts.CAFile = o.CAFile
		opts.Reconnect = client.Reconnect{Disabled: true}
		c := testkit.NewClient(t, opts)
		url, header := o.URL("/users/alice/outbox"), http.Header{"Authorization": {"Bearer " + token}}
		if opts.Mode == client.ModeSSE {
			url, header = url+"?access_token="+token, nil
		}
		f := testkit.Follow(t, c, url, "", header)
		f.WaitOpen(t)
		followers = append(followers, f)
	}
	pub := testkit.NewClient(t, client.Options{CAFile: o.CAFile})
	for i := range 2 {
		note := fmt.Sprintf(`{"type":"Note","content":"note %d","to":["https://www.w3.org/ns/activitystreams#Public"]}`, i)
		if _, err := pub.Publish(t.Context(), o.URL("/users/alice/outbox"), token, []byte(note)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range followers {
		f.WaitCount(t, 2)
		f.Cancel()
		f.WaitDone(t)
	}
	resp, err := http.Get(o.PlainURL("/users/alice?access_token=" + token))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	o.Stop()

	type line struct {
		Msg, Method, Path, Proto, End string
		Status, Events                int
		Bytes                         int64
	}
	var subscriptions, posts, gets []line
	for _, raw := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if strings.Contains(raw, token) {
			t.Errorf("a line holds the token: %s", raw)
		}
		var l line
		if json.Unmarshal([]byte(raw), &l) != nil || l.Msg != "access" {
			continue
		}
		switch {
		case l.End != "":
			subscriptions = append(subscriptions, l)
		case l.Method == http.MethodPost:
			posts = append(posts, l)
		case l.Method == http.MethodGet:
			gets = append(gets, l)
		}
	}
	protos := map[string]int{}
	for _, l := range subscriptions {
		protos[l.Proto]++
		// An HTTP/3 stream the client cancelled may be noticed only as
		// the server shuts down.
		ended := l.End == "client_gone" || l.Proto == "HTTP/3.0" && l.End == "shutdown"
		if l.Events != 2 || !ended || l.Status != 106 && l.Status != 200 && l.Status != 503 {
			t.Errorf("subscription line %+v, want 2 events, the client gone and the opening status", l)
		}
	}
	if len(subscriptions) != len(testkit.EveryWay) || protos["HTTP/1.1"] != 2 || protos["HTTP/2.0"] != 2 || protos["HTTP/3.0"] != 2 {
		t.Errorf("subscription lines by protocol %v, want 2 each of HTTP/1.1, HTTP/2.0, HTTP/3.0", protos)
	}
	if len(posts) != 2 || posts[0].Status != http.StatusCreated {
		t.Errorf("publications logged %+v, want two 201s", posts)
	}
	if len(gets) != 1 || gets[0].Status != http.StatusOK || gets[0].Bytes == 0 || !strings.Contains(gets[0].Path, "access_token=") {
		t.Errorf("GET logged %+v, want one 200 with its bytes and its masked access_token", gets)
	}
}
