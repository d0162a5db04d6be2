package wire

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestLastEventID(t *testing.T) {
	for _, tt := range []struct {
		values []string
		want   string
		status int
	}{
		{nil, "", 0},
		{[]string{""}, "", 0},
		{[]string{"42"}, "42", 0},
		{[]string{"1", "2"}, "", http.StatusBadRequest},
		{[]string{"1", "1"}, "", http.StatusBadRequest},
	} {
		got, err := LastEventID(http.Header{"Last-Event-Id": tt.values})
		var se *StatusError
		if got != tt.want || (tt.status == 0) != (err == nil) || (err != nil && (!errors.As(err, &se) || se.Status != tt.status)) {
			t.Errorf("%q: %q, %v", tt.values, got, err)
		}
	}
}

func TestBodyError(t *testing.T) {
	if se := BodyError(&http.MaxBytesError{Limit: 10}); se.Status != http.StatusRequestEntityTooLarge || !strings.Contains(se.Detail, "10 bytes") {
		t.Errorf("too large: %v", se)
	}
	if se := BodyError(errors.New("chunked line ends with bare LF")); se.Status != http.StatusBadRequest {
		t.Errorf("malformed: %v", se)
	}
}
