package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// TestLogFormat: with --log-format json every line a server logs is one
// JSON object with its level and message, for a log collector; the default
// is slog's text lines (negative control).
func TestLogFormat(t *testing.T) {
	for _, tt := range []struct {
		format string
		json   bool
	}{{"json", true}, {"text", false}} {
		t.Run(tt.format, func(t *testing.T) {
			var log testkit.LogBuffer
			o, err := launch.Start(t.Context(), "origin", launch.Options{Stderr: &log},
				"--listen-plain", "127.0.0.1:0", "--listen", "", "--data", t.TempDir(), "--log-level", "debug", "--log-format", tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if resp, err := http.Get(o.PlainURL("/nothing-here")); err == nil {
				resp.Body.Close()
			}
			o.Stop()
			lines := strings.Split(strings.TrimSpace(log.String()), "\n")
			if len(lines) == 0 || lines[0] == "" {
				t.Fatal("nothing logged")
			}
			for _, line := range lines {
				var record struct{ Level, Msg string }
				err := json.Unmarshal([]byte(line), &record)
				if isJSON := err == nil && record.Level != "" && record.Msg != ""; isJSON != tt.json {
					t.Errorf("line %q: JSON with level and msg: %v, want %v", line, isJSON, tt.json)
				}
			}
		})
	}
}
