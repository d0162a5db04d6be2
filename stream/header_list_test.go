package stream_test

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/subpub/subpub/internal/testkit"
	"github.com/subpub/subpub/wire"
)

// TestAnEventOverTheClientsHeaderListSizeEndsTheSubscription: over HTTP/2,
// a subscriber whose SETTINGS_MAX_HEADER_LIST_SIZE is smaller than an
// event's PUB (an event held inline, with no reference to send instead)
// is never sent a field section larger than it: it gets the events before
// that one, then a 502 whose problem detail names the event and both
// sizes, so that it does not take the event for lost in silence. Both
// ways a subscription is written are covered: by the connection's fan-out
// (caught up, live) and by its own loop (resuming). The negative control is
// a client that advertises no limit: it receives the large PUB, which the
// checker sees exceed the other client's limit.
func TestAnEventOverTheClientsHeaderListSizeEndsTheSubscription(t *testing.T) {
	const limit = 2048
	for _, tt := range []struct {
		name    string
		resume  bool
		limited bool
	}{
		{"live", false, true},
		{"resuming", true, true},
		{"live, no limit (negative control)", false, false},
		{"resuming, no limit (negative control)", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := startTestOrigin(t, nil)
			var settings []http2.Setting
			if tt.limited {
				settings = append(settings, http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: limit})
			}
			rc := newRawH2(t, o.PlainAddr(), defaultWindow, settings...)
			rc.decodeFieldSections()
			publish := func() {
				for _, data := range []string{`"small"`, `"` + strings.Repeat("x", 3000) + `"`, `"small"`} {
					o.PublishEvent(streamPath, wire.Event{Type: "Update", Data: []byte(data)})
				}
			}
			var extra [][2]string
			if tt.resume {
				extra = append(extra, [2]string{"last-event-id", strconv.FormatUint(o.Log.Last(), 10)})
				publish()
			}
			rc.requestPath(1, wire.MethodSUB, streamPath, extra...)
			var pubs, largest int
			final := ""
			rc.each(t, func(f http2.Frame) bool {
				switch f := f.(type) {
				case *http2.MetaHeadersFrame:
					size := 0
					for _, hf := range f.Fields {
						size += int(hf.Size())
					}
					largest = max(largest, size)
					switch status := f.PseudoValue("status"); {
					case status == "106" && !tt.resume && pubs == 0:
						testkit.WaitUntil(t, "the subscription fanned out", func() bool { return o.closes.FanOutNow() == 1 })
						publish()
					case status == "105":
						pubs++
					case !strings.HasPrefix(status, "1"):
						final = status
					}
				case *http2.RSTStreamFrame:
					t.Fatalf("stream reset: %v", f.ErrCode)
				}
				return final == "" && pubs < 3
			})
			if !tt.limited {
				if pubs != 3 || largest <= limit {
					t.Fatalf("without a limit: %d PUBs, the largest field section %d bytes; want 3, one over %d", pubs, largest, limit)
				}
				return
			}
			if largest > limit {
				t.Errorf("a field section of %d bytes was sent to a client whose limit is %d", largest, limit)
			}
			if pubs != 1 || final != "502" {
				t.Fatalf("%d PUBs, then %q; want 1, then 502", pubs, final)
			}
			body := rc.readUntil(t, func(bodies map[uint32]string) bool { return strings.Contains(bodies[1], "}") })[1]
			if !strings.Contains(body, "SETTINGS_MAX_HEADER_LIST_SIZE of "+strconv.Itoa(limit)) {
				t.Errorf("the problem detail does not say why: %s", body)
			}
		})
	}
}

// TestAnAcknowledgementOverTheClientsHeaderListSizeIsA502: a client whose
// SETTINGS_MAX_HEADER_LIST_SIZE is smaller than the 106 that acknowledges
// its subscription gets a 502 that says so, not events without an
// acknowledgement. The negative control, a limit the 106 fits, is
// acknowledged.
func TestAnAcknowledgementOverTheClientsHeaderListSizeIsA502(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limit  uint32
		status string
	}{
		{"limit under the 106", 64, "502"},
		{"limit over it (negative control)", 4096, "106"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := startTestOrigin(t, nil)
			rc := newRawH2(t, o.PlainAddr(), defaultWindow, http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: tt.limit})
			rc.decodeFieldSections()
			rc.requestPath(1, wire.MethodSUB, streamPath)
			first := ""
			rc.each(t, func(f http2.Frame) bool {
				if mh, ok := f.(*http2.MetaHeadersFrame); ok {
					first = mh.PseudoValue("status")
				}
				return first == ""
			})
			if first != tt.status {
				t.Fatalf("first response %s, want %s", first, tt.status)
			}
			if tt.status == "502" {
				body := rc.readUntil(t, func(bodies map[uint32]string) bool { return strings.Contains(bodies[1], "}") })[1]
				if !strings.Contains(body, "acknowledgement cannot be sent") {
					t.Errorf("the problem detail does not say why: %s", body)
				}
			}
		})
	}
}
