package client_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

func TestFailFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/s"
	l.Close()
	o := testkit.NewOrigin(t, nil)
	var busyRequests atomic.Int64
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		busyRequests.Add(1)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer busy.Close()
	fast := client.Reconnect{FailFast: true, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}
	for _, tt := range []struct {
		name    string
		opts    client.Options
		url     string
		failure client.Failure
		// attempts made before Run returned (MaxAttempts bounds them)
		attempts int
	}{
		{"a refused connection", client.Options{Reconnect: fast}, refused, client.FailureConnect, 1},
		{"an untrusted certificate", client.Options{Reconnect: fast}, o.URL().String() + "/public/x", client.FailureCertificate, 1},
		{"a name that does not resolve", client.Options{Reconnect: fast}, "http://nowhere.invalid/s", client.FailureResolve, 1},
		{"a 404", client.Options{CAFile: o.CA.CAFile, Reconnect: fast}, o.URL().String() + "/nowhere", client.FailureStatus, 1},
		{"negative control: a 503 is retried", client.Options{Mode: client.ModeSSE, Reconnect: client.Reconnect{FailFast: true, MaxAttempts: 3, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}}, busy.URL + "/s", client.FailureStatus, 3},
		{"negative control: without FailFast, a refused connection is retried", client.Options{Reconnect: client.Reconnect{MaxAttempts: 3, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond}}, refused, client.FailureConnect, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			busyRequests.Store(0)
			c := testkit.NewClient(t, tt.opts)
			retries := 0
			err := c.Run(t.Context(), &client.Subscription{URL: tt.url, OnEvent: func(client.Event) {}, OnRetry: func(error, time.Duration) { retries++ }})
			if got := client.FailureOf(err); got != tt.failure {
				t.Errorf("FailureOf(%v) = %v, want %v", err, got, tt.failure)
			}
			if retries+1 != tt.attempts {
				t.Errorf("%d attempts, want %d (%v)", retries+1, tt.attempts, err)
			}
		})
	}
}

func TestFailureOf(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want client.Failure
	}{
		{nil, client.FailureOther},
		{errors.New("something"), client.FailureOther},
		{&wire.StatusError{Status: 404}, client.FailureStatus},
		{&wire.StatusError{Status: 301}, client.FailureOther},
		{&net.DNSError{Name: "x.invalid", Err: "no such host", IsNotFound: true}, client.FailureResolve},
		{wire.ErrStreamEnded, client.FailureOther},
	} {
		if got := client.FailureOf(tt.err); got != tt.want {
			t.Errorf("FailureOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
