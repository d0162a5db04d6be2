package conformance

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

const (
	// headerListLimit is the SETTINGS_MAX_HEADER_LIST_SIZE that
	// checkHeaderListLimit advertises: room for an acknowledgement and a
	// small event, not for the large one it publishes.
	headerListLimit = 2048
	// overLimitPayload is the size of that event's payload: over the
	// limit, and under the 4096 bytes the draft recommends as the
	// threshold for sending by reference, so that a server following the
	// recommendation holds it inline and must do something else.
	overLimitPayload = 3000
)

// checkHeaderListLimit subscribes over HTTP/2 on a connection whose
// SETTINGS_MAX_HEADER_LIST_SIZE is headerListLimit, has the server publish
// an event whose payload is larger, then a small one, and reads every
// header block the server sends on the stream, measured as RFC 9113 §6.5.2
// counts. None may exceed the limit. The large event must then arrive
// within it (by reference), or the subscription end with an error
// response; the small one arriving without it is an event left out in
// silence.
func checkHeaderListLimit(ctx context.Context, s *suiteRun) Result {
	if why, ok := s.main.notOffered[client.HTTP2]; ok {
		return skip("HTTP/2 not offered: %v", why)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	conn, fr, err := s.dialHTTP2(ctx, http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: headerListLimit})
	if err != nil {
		return fail("connecting: %v", err)
	}
	defer conn.Close()
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20 // to measure what the server sends, not to refuse it
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: s.subRequestBlock(), EndStream: true, EndHeaders: true}); err != nil {
		return fail("sending SUB: %v", err)
	}
	published := false
	var large *wire.Event // the event over the limit, once it arrived within it
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return fail("reading: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			return fail("GOAWAY %v", f.ErrCode)
		case *http2.RSTStreamFrame:
			return fail("the stream was reset (%v), without a response that says why", f.ErrCode)
		case *http2.MetaHeadersFrame:
			status := f.PseudoValue("status")
			if n := headerListSize(f.Fields); n > headerListLimit {
				return fail("a %s response of %d bytes (as SETTINGS_MAX_HEADER_LIST_SIZE counts) to a client whose limit is %d", status, n, headerListLimit)
			}
			switch {
			case status == "106" && !published:
				published = true
				if err := s.publishSized(ctx, overLimitPayload); err != nil {
					return fail("publishing: %v", err)
				}
				if err := s.publishSized(ctx, 0); err != nil {
					return fail("publishing: %v", err)
				}
			case status == "105" && published:
				e, err := wire.DecodePUB(fieldsHeader(f))
				if err != nil {
					return fail("a PUB: %v", err)
				}
				switch {
				case e.Ref != "" || len(e.Data) >= overLimitPayload:
					large = &e
				case large == nil:
					return fail("the event over the limit was left out: the next one (%q) arrived without it", e.ID)
				default:
					return pass("the event over the limit arrived within it, %s", describeWithin(*large))
				}
			case !strings.HasPrefix(status, "1"):
				if large != nil {
					return pass("the event over the limit arrived within it, %s, then a %s", describeWithin(*large), status)
				}
				if code, _ := strconv.Atoi(status); code < 400 {
					return fail("the subscription ended with %s instead of the event over the limit", status)
				}
				return pass("the subscription ended with %s instead of a PUB over the limit", status)
			}
		}
	}
}

func describeWithin(e wire.Event) string {
	if e.Ref != "" {
		return "by reference"
	}
	return fmt.Sprintf("inline (%d bytes of payload)", len(e.Data))
}

// subRequestBlock is the run's SUB request for its URL as an HPACK header
// block, with the run's fields.
func (s *suiteRun) subRequestBlock() []byte {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", wire.MethodSUB}, {":scheme", s.base.Scheme}, {":authority", s.base.Host}, {":path", s.base.RequestURI()}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for name, values := range s.cfg.Header {
		for _, v := range values {
			enc.WriteField(hpack.HeaderField{Name: strings.ToLower(name), Value: v})
		}
	}
	return block.Bytes()
}

// headerListSize is a field section's size as RFC 9113 §6.5.2 counts it.
func headerListSize(fields []hpack.HeaderField) int {
	n := 0
	for _, f := range fields {
		n += int(f.Size())
	}
	return n
}

// fieldsHeader is a header block's regular fields as an http.Header.
func fieldsHeader(f *http2.MetaHeadersFrame) http.Header {
	h := http.Header{}
	for _, hf := range f.RegularFields() {
		h.Add(hf.Name, hf.Value)
	}
	return h
}
