package activitypub

import (
	"net/url"
	"testing"
)

// TestRedactedURI checks that access tokens never reach the request log.
func TestRedactedURI(t *testing.T) {
	tests := []struct {
		name, uri, want string
	}{
		{"a URI without a query is unchanged", "/users/alice", "/users/alice"},
		{"other parameters are unchanged", "/proxy/events?id=https%3A%2F%2Fx", "/proxy/events?id=https%3A%2F%2Fx"},
		{"the token is replaced", "/proxy/events?id=x&access_token=s3cret&z=1", "/proxy/events?id=x&access_token=********&z=1"},
		{"every token is replaced", "/x?access_token=a&access_token=b", "/x?access_token=********&access_token=********"},
		{"an escaped parameter name is recognised", "/x?access%5Ftoken=s3cret", "/x?access_token=********"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.ParseRequestURI(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			if got := redactedURI(u); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
