package load

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
)

func TestAckControlAnswersWhatAsksForAnAnswer(t *testing.T) {
	data := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	for _, tt := range []struct {
		name  string
		write func(*http2.Framer) error
		want  string // the frame answered, "" for none
	}{
		{"settings", func(fr *http2.Framer) error { return fr.WriteSettings() }, "SETTINGS ack"},
		{"ping", func(fr *http2.Framer) error { return fr.WritePing(false, data) }, "PING ack"},
		{"settings ack (negative control)", func(fr *http2.Framer) error { return fr.WriteSettingsAck() }, ""},
		{"ping ack (negative control)", func(fr *http2.Framer) error { return fr.WritePing(true, data) }, ""},
		{"window update (negative control)", func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, 1) }, ""},
	} {
		var in, out bytes.Buffer
		if err := tt.write(http2.NewFramer(&in, nil)); err != nil {
			t.Fatal(err)
		}
		f, err := http2.NewFramer(nil, &in).ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if err := AckControl(http2.NewFramer(&out, nil), f); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := ""
		if out.Len() > 0 {
			answer, err := http2.NewFramer(nil, &out).ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			switch a := answer.(type) {
			case *http2.SettingsFrame:
				if a.IsAck() {
					got = "SETTINGS ack"
				}
			case *http2.PingFrame:
				if a.IsAck() && a.Data == data {
					got = "PING ack"
				}
			}
		}
		if got != tt.want {
			t.Errorf("%s: answered %q, want %q", tt.name, got, tt.want)
		}
	}
}
