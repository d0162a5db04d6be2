package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// TestRevokedTokenThroughTheEdge adds tokens with `subpub token` to the data
// directory of a running origin, subscribes with them to alice's own view of
// her outbox (private) through an edge, by SUB over HTTP/2 and HTTP/1.1 and
// by SSE, and revokes one: the origin ends its streams with 401, which the
// edge relays to each of its subscribers, and the edge refuses anyone
// joining with it. The other token's subscribers go on receiving.
func TestRevokedTokenThroughTheEdge(t *testing.T) {
	data := t.TempDir()
	o := startProcess(t, "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--data", data, "--user", "alice:alice-token", "--max-per-client", "-1")
	e := startEdge(t, o, launch.Options{}, "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--max-per-client", "-1")

	add := func(name string) string {
		t.Helper()
		code, out, errOut := runCLI(t.Context(), "", "token", "add", "--data", data, "--user", "alice", "--name", name, "--expires", "24h")
		secret := strings.TrimSpace(out)
		if code != 0 || secret == "" || strings.Contains(secret, "\n") || !strings.Contains(errOut, "not shown again") {
			t.Fatalf("token add: exit %d, %q, %q", code, out, errOut)
		}
		return secret
	}
	phone, laptop := add("phone"), add("laptop")
	code, list, errOut := runCLI(t.Context(), "", "token", "list", "--data", data)
	if code != 0 {
		t.Fatalf("token list: exit %d, %s", code, errOut)
	}
	var phoneID string
	for _, line := range strings.Split(list, "\n") {
		if fields := strings.Fields(line); len(fields) > 2 && fields[2] == "phone" {
			phoneID = fields[0]
		}
	}
	if phoneID == "" || strings.Contains(list, phone) || strings.Contains(list, laptop) || strings.Contains(list, "alice-token") {
		t.Fatalf("token list shows no phone token, or a secret:\n%s", list)
	}

	ways := []testkit.Way{
		{Name: "SUB over HTTP/2", Options: client.Options{Mode: client.ModeSUB, HTTP: client.HTTP2}},
		{Name: "SUB over HTTP/1.1", Options: client.Options{Mode: client.ModeSUB, HTTP: client.HTTP11}},
		{Name: "SSE over HTTP/1.1", Options: client.Options{Mode: client.ModeSSE, HTTP: client.HTTP11}},
	}
	outbox := e.URL("/users/alice/outbox")
	auth := func(secret string) http.Header { return http.Header{"Authorization": {"Bearer " + secret}} }
	var clients []*client.Client
	var revoked, kept []*testkit.Follower
	for _, way := range ways {
		opts := way.Options
		opts.CAFile = e.CAFile
		opts.Reconnect = client.Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}
		c := testkit.NewClient(t, opts)
		clients = append(clients, c)
		r := testkit.Follow(t, c, outbox, "", auth(phone))
		r.Name = "phone, " + way.Name
		k := testkit.Follow(t, c, outbox, "", auth(laptop))
		k.Name = "laptop, " + way.Name
		revoked, kept = append(revoked, r), append(kept, k)
	}
	for _, f := range append(revoked, kept...) {
		if open := f.WaitOpen(t); open.Header.Get(wire.FieldSubscriptionSharing) != wire.SharingPerCredential {
			t.Fatalf("%s: %s %q, want %s", f.Name, wire.FieldSubscriptionSharing, open.Header.Get(wire.FieldSubscriptionSharing), wire.SharingPerCredential)
		}
	}
	pub := testkit.NewClient(t, client.Options{CAFile: o.CAFile})
	note := func(n int) {
		t.Helper()
		// Addressed to nobody else: only alice's own view has it.
		body := fmt.Sprintf(`{"type":"Note","content":"private %d","to":[%q]}`, n, o.BaseURL+"/users/alice")
		if _, err := pub.Publish(t.Context(), o.URL("/users/alice/outbox"), "alice-token", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	note(1)
	for _, f := range append(revoked, kept...) {
		f.WaitCount(t, 1)
	}

	code, out, errOut := runCLI(t.Context(), "", "token", "revoke", "--data", data, phoneID)
	if code != 0 || !strings.Contains(out, "revoked "+phoneID) {
		t.Fatalf("token revoke: exit %d, %q, %q", code, out, errOut)
	}
	// Nobody joins before they end: the origin ended them, and the edge
	// relayed its 401.
	for _, f := range revoked {
		err := f.WaitDone(t)
		var se *wire.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
			t.Errorf("%s ended with %v, want 401", f.Name, err)
		}
	}
	for i, c := range clients {
		late := testkit.Follow(t, c, outbox, "", auth(phone))
		late.Name = "phone joining after the revocation, " + ways[i].Name
		err := late.WaitDone(t)
		var se *wire.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
			t.Errorf("%s: %v, want 401", late.Name, err)
		}
	}

	note(2)
	for _, f := range kept {
		f.WaitCount(t, 2)
	}
	for _, f := range revoked {
		if ids := f.IDs(); len(ids) != 1 {
			t.Errorf("%s received %v, want only the note before the revocation", f.Name, ids)
		}
	}
	joined := testkit.Follow(t, clients[0], outbox, "", auth(laptop))
	joined.WaitOpen(t)
}
