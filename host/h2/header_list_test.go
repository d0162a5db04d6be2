package h2

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// TestInterimOverTheClientsHeaderListSizeIsNotSent: a client that
// advertises SETTINGS_MAX_HEADER_LIST_SIZE gets no interim response larger
// than it, written alone or in a Batch; the writer is told why, with the
// sizes, and what fits still goes out, in order. The negative control is a
// client that advertises no limit: the same large interim response reaches
// it, so the check would see one that went out.
func TestInterimOverTheClientsHeaderListSizeIsNotSent(t *testing.T) {
	const limit = 1000
	large := http.Header{"Event": {`id="2"`}, "Event-Data": {strings.Repeat("d", 2*limit)}}
	for _, tt := range []struct {
		name     string
		settings []http2.Setting
		wantSent bool
	}{
		{"limit advertised", []http2.Setting{{ID: http2.SettingMaxHeaderListSize, Val: limit}}, false},
		{"no limit advertised (negative control)", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			errs := make(chan [2]error, 1)
			ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				iw := w.(InterimWriter)
				iw.WriteInterim(105, http.Header{"Event": {`id="1"`}})
				alone := iw.WriteInterim(105, large)
				_, batched := ConnOf(w).Batch(func(b *Batch) {
					b.Interim(w, 105, NewFields(http.Header{"Event": {`id="1.5"`}}))
					b.Interim(w, 105, NewFields(large))
				})
				iw.WriteInterim(105, http.Header{"Event": {`id="3"`}})
				errs <- [2]error{alone, batched}
				w.WriteHeader(http.StatusNoContent)
			}), false)
			rc := dialRaw(t, ts, tt.settings...)
			rc.request(1, "SUB", "/", true)
			var got []string
			for {
				mh := rc.next(func(f http2.Frame) bool { _, ok := f.(*http2.MetaHeadersFrame); return ok }).(*http2.MetaHeadersFrame)
				if mh.PseudoValue("status") != "105" {
					break
				}
				got = append(got, fieldOf(mh, "event"))
			}
			e := <-errs
			want := []string{`id="1"`, `id="3"`}
			if tt.wantSent {
				want = []string{`id="1"`, `id="2"`, `id="1.5"`, `id="2"`, `id="3"`}
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("PUBs received: %v, want %v", got, want)
			}
			for i, err := range e {
				var tooLarge *FieldSectionTooLargeError
				switch {
				case tt.wantSent && err != nil:
					t.Errorf("write %d: %v", i, err)
				case !tt.wantSent && !errors.As(err, &tooLarge):
					t.Errorf("write %d: %v, want a FieldSectionTooLargeError", i, err)
				case !tt.wantSent && (tooLarge.Limit != limit || tooLarge.Size <= limit):
					t.Errorf("write %d: %v: sizes wrong", i, err)
				}
			}
		})
	}
}

// TestTrailersEndTheStreamWhateverTheHeaderListSize: the client's limit is
// checked for interim responses only; trailers over it still end the
// stream (a refused trailer block would leave it open, and this test time
// out). The case without a limit shows the same response ending the stream
// when nothing is counted.
func TestTrailersEndTheStreamWhateverTheHeaderListSize(t *testing.T) {
	for _, tt := range []struct {
		name     string
		settings []http2.Setting
	}{
		{"limit advertised", []http2.Setting{{ID: http2.SettingMaxHeaderListSize, Val: 1000}}},
		{"no limit advertised (negative control)", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "X-Digest")
				w.Write([]byte("body"))
				w.Header().Set("X-Digest", strings.Repeat("t", 2000))
			}), false)
			rc := dialRaw(t, ts, tt.settings...)
			rc.request(1, "GET", "/", true)
			rc.response(1)
			trailers := rc.next(func(f http2.Frame) bool {
				mh, ok := f.(*http2.MetaHeadersFrame)
				return ok && mh.StreamID == 1
			}).(*http2.MetaHeadersFrame)
			if !trailers.StreamEnded() || len(fieldOf(trailers, "x-digest")) != 2000 {
				t.Errorf("trailers %v, ended %v", trailers.Fields, trailers.StreamEnded())
			}
		})
	}
}
