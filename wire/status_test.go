package wire

import (
	"net/http"
	"testing"
)

func TestStatusErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		err  StatusError
		want string
	}{
		{StatusError{Status: 404, Detail: "https://o/x does not exist"}, "404 Not Found: https://o/x does not exist"},
		{StatusError{Status: 401, Title: "Unauthorized"}, "401 Unauthorized"},
		{StatusError{Status: 401, Title: "Token expired"}, "401 Unauthorized: Token expired"},
		{StatusError{Status: 405, Header: http.Header{"Allow": {"GET, SUB"}}}, "405 Method Not Allowed (Allow: GET, SUB)"},
		// The detail already says which methods: not twice.
		{StatusError{Status: 405, Detail: "POST is not supported on https://o/x (allowed: GET, SUB)", Header: http.Header{"Allow": {"GET, SUB"}}},
			"405 Method Not Allowed: POST is not supported on https://o/x (allowed: GET, SUB)"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}
