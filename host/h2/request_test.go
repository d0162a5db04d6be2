package h2

import (
	"bytes"
	"errors"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

func hf(pairs ...string) []hpack.HeaderField {
	var fs []hpack.HeaderField
	for i := 0; i+1 < len(pairs); i += 2 {
		fs = append(fs, hpack.HeaderField{Name: pairs[i], Value: pairs[i+1]})
	}
	return fs
}

func TestParseRequestHead(t *testing.T) {
	get := []string{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/a?b=c"}
	with := func(extra ...string) []hpack.HeaderField { return hf(append(append([]string{}, get...), extra...)...) }
	for _, tc := range []struct {
		name   string
		fields []hpack.HeaderField
		ok     bool
		check  func(t *testing.T, r *http.Request)
	}{
		{"get", with(), true, func(t *testing.T, r *http.Request) {
			if r.Method != "GET" || r.Host != "example.com" || r.URL.Path != "/a" || r.URL.RawQuery != "b=c" ||
				r.RequestURI != "/a?b=c" || r.ProtoMajor != 2 || r.Proto != "HTTP/2.0" || r.ContentLength != -1 {
				t.Errorf("%+v", r)
			}
		}},
		{"fields canonical, cookies joined", with("x-a", "1", "cookie", "a=1", "cookie", "b=2", "x-a", "2"), true, func(t *testing.T, r *http.Request) {
			if !reflect.DeepEqual(r.Header["X-A"], []string{"1", "2"}) || r.Header.Get("Cookie") != "a=1; b=2" {
				t.Errorf("%v", r.Header)
			}
		}},
		{"content-length", with("content-length", "12"), true, func(t *testing.T, r *http.Request) {
			if r.ContentLength != 12 {
				t.Errorf("ContentLength %d", r.ContentLength)
			}
		}},
		{"same content-length twice", with("content-length", "12", "content-length", "12"), true, nil},
		{"trailer declared", with("trailer", "x-sum, x-other"), true, func(t *testing.T, r *http.Request) {
			if _, ok := r.Trailer["X-Sum"]; !ok || len(r.Trailer) != 2 {
				t.Errorf("Trailer %v", r.Trailer)
			}
		}},
		{"host when no :authority", hf(":method", "GET", ":scheme", "http", ":path", "/", "host", "h.example"), true, func(t *testing.T, r *http.Request) {
			if r.Host != "h.example" {
				t.Errorf("Host %q", r.Host)
			}
		}},
		{"host same as :authority", with("host", "EXAMPLE.com"), true, nil},
		{"te trailers", with("te", "trailers"), true, nil},
		{"OPTIONS *", hf(":method", "OPTIONS", ":scheme", "https", ":path", "*"), true, nil},
		{"CONNECT", hf(":method", "CONNECT", ":authority", "example.com:443"), true, func(t *testing.T, r *http.Request) {
			if r.URL.Host != "example.com:443" || r.RequestURI != "example.com:443" {
				t.Errorf("%+v", r.URL)
			}
		}},
		{"extension method", hf(":method", "SUB", ":scheme", "https", ":path", "/"), true, nil},

		{"no fields", nil, false, nil},
		{"no :method", hf(":scheme", "https", ":path", "/"), false, nil},
		{"no :scheme", hf(":method", "GET", ":path", "/"), false, nil},
		{"no :path", hf(":method", "GET", ":scheme", "https"), false, nil},
		{"empty :path", hf(":method", "GET", ":scheme", "https", ":path", ""), false, nil},
		{"relative :path", hf(":method", "GET", ":scheme", "https", ":path", "a"), false, nil},
		{"* for GET", hf(":method", "GET", ":scheme", "https", ":path", "*"), false, nil},
		{"repeated :path", with(":path", "/b"), false, nil},
		{":status", with(":status", "200"), false, nil},
		{":protocol", with(":protocol", "websocket"), false, nil},
		{"unknown pseudo", with(":foo", "x"), false, nil},
		{"pseudo after regular", hf(":method", "GET", "x-a", "1", ":scheme", "https", ":path", "/"), false, nil},
		{"upper case", with("X-A", "1"), false, nil},
		{"space in name", with("x a", "1"), false, nil},
		{"empty name", with("", "1"), false, nil},
		{"NUL in value", with("x-a", "a\x00b"), false, nil},
		{"CRLF in value", with("x-a", "a\r\nb"), false, nil},
		{"connection", with("connection", "close"), false, nil},
		{"keep-alive", with("keep-alive", "1"), false, nil},
		{"proxy-connection", with("proxy-connection", "1"), false, nil},
		{"transfer-encoding", with("transfer-encoding", "chunked"), false, nil},
		{"upgrade", with("upgrade", "h2c"), false, nil},
		{"te gzip", with("te", "gzip"), false, nil},
		{"te trailers, gzip", with("te", "trailers, gzip"), false, nil},
		{"bad content-length", with("content-length", "-1"), false, nil},
		{"conflicting content-length", with("content-length", "1", "content-length", "2"), false, nil},
		{"host differs", with("host", "other.example"), false, nil},
		{"userinfo in :authority", hf(":method", "GET", ":scheme", "https", ":authority", "u@example.com", ":path", "/"), false, nil},
		{"forbidden trailer", with("trailer", "content-length"), false, nil},
		{"CONNECT with :path", hf(":method", "CONNECT", ":authority", "a:1", ":path", "/"), false, nil},
		{"CONNECT without :authority", hf(":method", "CONNECT"), false, nil},
		{"bad method", hf(":method", "G T", ":scheme", "https", ":path", "/"), false, nil},
		{"bad scheme", hf(":method", "GET", ":scheme", "1http", ":path", "/"), false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rh, err := parseRequestHead(tc.fields)
			var r *http.Request
			if err == nil {
				r, err = rh.newRequest()
			}
			if tc.ok != (err == nil) {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			if tc.check != nil && r != nil {
				tc.check(t, r)
			}
		})
	}
}

// FuzzParseRequestHead decodes the input as an HPACK header block and
// checks what parseRequestHead accepts: a request net/http can serve,
// without any field HTTP/2 forbids, that reads back the same when encoded
// again.
func FuzzParseRequestHead(f *testing.F) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, fields := range [][]string{
		{":method", "GET", ":scheme", "https", ":authority", "example.com", ":path", "/"},
		{":method", "SUB", ":scheme", "http", ":path", "/topic?x=1", "last-event-id", "5", "cookie", "a=1", "cookie", "b=2"},
		{":method", "POST", ":scheme", "https", ":path", "/", "content-length", "3", "te", "trailers", "trailer", "x-sum"},
		{":method", "CONNECT", ":authority", "a:443"},
		{":method", "GET", ":scheme", "https", ":path", "/", "connection", "close"},
		{":method", "OPTIONS", ":scheme", "https", ":path", "*", "host", "h"},
	} {
		buf.Reset()
		for _, fl := range hf(fields...) {
			enc.WriteField(fl)
		}
		f.Add(bytes.Clone(buf.Bytes()))
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		fields, ok := decodeBlock(block)
		if !ok {
			return
		}
		rh, err := parseRequestHead(fields)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		r, err := rh.newRequest()
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		if r.Method == "" || r.URL == nil || r.ProtoMajor != 2 || r.ContentLength < -1 {
			t.Fatalf("accepted %+v", r)
		}
		if r.Method != http.MethodConnect && !strings.HasPrefix(r.RequestURI, "/") && r.RequestURI != "*" {
			t.Fatalf("RequestURI %q", r.RequestURI)
		}
		for k, vs := range r.Header {
			lk := strings.ToLower(k)
			if connectionSpecific[lk] || strings.HasPrefix(k, ":") || k != textproto.CanonicalMIMEHeaderKey(k) {
				t.Fatalf("field %q accepted", k)
			}
			if lk == "te" && (len(vs) != 1 || vs[0] != "trailers") {
				t.Fatalf("te %q accepted", vs)
			}
		}

		// Encoded again from the request, the fields read back the same.
		again := []string{":method", r.Method}
		if r.Method == http.MethodConnect {
			again = append(again, ":authority", rh.authority)
		} else {
			again = append(again, ":scheme", rh.scheme, ":path", rh.path)
			if rh.authority != "" {
				again = append(again, ":authority", rh.authority)
			}
		}
		for k, vs := range r.Header {
			if k == "Host" {
				continue
			}
			for _, v := range vs {
				again = append(again, strings.ToLower(k), v)
			}
		}
		rh2, err := parseRequestHead(hf(again...))
		if err != nil {
			t.Fatalf("re-encoded %q: %v", again, err)
		}
		if rh2.method != rh.method || rh2.path != rh.path || rh2.authority != rh.authority ||
			rh2.contentLength != rh.contentLength || !reflect.DeepEqual(rh2.header, rh.header) {
			t.Fatalf("re-encoded differs:\n%+v\n%+v", rh, rh2)
		}
	})
}

func decodeBlock(block []byte) ([]hpack.HeaderField, bool) {
	var fields []hpack.HeaderField
	size := 0
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		size += int(f.Size())
		fields = append(fields, f)
	})
	dec.SetMaxStringLength(1 << 16)
	if _, err := dec.Write(block); err != nil || dec.Close() != nil || size > DefaultMaxHeaderBytes {
		return nil, false
	}
	return fields, true
}
