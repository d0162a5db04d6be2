package h2

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2/hpack"
)

// requestHead is a request's header section as RFC 9113 §8.3 defines it:
// the pseudo-header fields, then the regular ones.
type requestHead struct {
	method, scheme, authority, path string
	header                          http.Header
	// contentLength is the Content-Length the client declared, -1 if none.
	contentLength int64
	// trailer holds the names the client declared in Trailer, with nil
	// values, or is nil.
	trailer http.Header
}

// errMalformed wraps every reason a header section is malformed (RFC 9113
// §8.1.1): the stream is reset with PROTOCOL_ERROR.
var errMalformed = errors.New("malformed request")

type malformedError string

func (e malformedError) Error() string { return "h2: malformed request: " + string(e) }
func (e malformedError) Unwrap() error { return errMalformed }

func malformed(reason string) error { return malformedError(reason) }

// connectionSpecific are the fields HTTP/2 forbids (RFC 9113 §8.2.2).
var connectionSpecific = map[string]bool{
	"connection":        true,
	"proxy-connection":  true,
	"keep-alive":        true,
	"transfer-encoding": true,
	"upgrade":           true,
}

// parseRequestHead validates the fields of a request's HEADERS (and
// CONTINUATION) frames and sorts them into a requestHead. Any error wraps
// errMalformed.
func parseRequestHead(fields []hpack.HeaderField) (*requestHead, error) {
	rh := &requestHead{contentLength: -1}
	var sawRegular, sawMethod, sawScheme, sawAuthority, sawPath bool
	var host string
	var cookies []string
	for _, f := range fields {
		if err := checkFieldName(f.Name); err != nil {
			return nil, err
		}
		if !httpguts.ValidHeaderFieldValue(f.Value) {
			return nil, malformed("invalid value of " + strconv.Quote(f.Name))
		}
		if strings.HasPrefix(f.Name, ":") {
			if sawRegular {
				return nil, malformed("pseudo-header field after regular fields")
			}
			var seen *bool
			var dst *string
			switch f.Name {
			case ":method":
				seen, dst = &sawMethod, &rh.method
			case ":scheme":
				seen, dst = &sawScheme, &rh.scheme
			case ":authority":
				seen, dst = &sawAuthority, &rh.authority
			case ":path":
				seen, dst = &sawPath, &rh.path
			default:
				// :status belongs to responses; :protocol needs
				// SETTINGS_ENABLE_CONNECT_PROTOCOL, which is not sent.
				return nil, malformed("pseudo-header field " + f.Name)
			}
			if *seen {
				return nil, malformed("repeated " + f.Name)
			}
			*seen, *dst = true, f.Value
			continue
		}
		sawRegular = true
		if connectionSpecific[f.Name] {
			return nil, malformed("connection-specific field " + f.Name)
		}
		switch f.Name {
		case "te":
			if f.Value != "trailers" {
				return nil, malformed("te other than trailers")
			}
		case "host":
			if host != "" {
				return nil, malformed("repeated host")
			}
			host = f.Value
			if host == "" {
				return nil, malformed("empty host")
			}
			// As net/http does: the Host field is Request.Host, not in
			// Request.Header.
			continue
		case "content-length":
			n, err := parseContentLength(f.Value)
			if err != nil {
				return nil, err
			}
			if rh.contentLength >= 0 && rh.contentLength != n {
				return nil, malformed("conflicting content-length")
			}
			rh.contentLength = n
		case "cookie":
			// RFC 9113 §8.2.3: cookie crumbs are joined again.
			cookies = append(cookies, f.Value)
			continue
		case "trailer":
			for name := range strings.SplitSeq(f.Value, ",") {
				name = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(name))
				if name == "" {
					continue
				}
				if !httpguts.ValidTrailerHeader(name) {
					return nil, malformed("forbidden trailer " + strconv.Quote(name))
				}
				if rh.trailer == nil {
					rh.trailer = make(http.Header)
				}
				rh.trailer[name] = nil
			}
		}
		if rh.header == nil {
			rh.header = make(http.Header, len(fields))
		}
		key := canonicalKey(f.Name)
		rh.header[key] = append(rh.header[key], f.Value)
	}
	if rh.header == nil {
		rh.header = make(http.Header)
	}
	if len(cookies) > 0 {
		rh.header["Cookie"] = []string{strings.Join(cookies, "; ")}
	}

	if !sawMethod || !validMethod(rh.method) {
		return nil, malformed("missing or invalid :method")
	}
	if rh.method == http.MethodConnect {
		// RFC 9113 §8.5: only :authority, the target.
		if sawScheme || sawPath {
			return nil, malformed("CONNECT with :scheme or :path")
		}
		if !sawAuthority || rh.authority == "" {
			return nil, malformed("CONNECT without :authority")
		}
	} else {
		if !sawScheme || !validScheme(rh.scheme) {
			return nil, malformed("missing or invalid :scheme")
		}
		if !sawPath || rh.path == "" {
			return nil, malformed("missing or empty :path")
		}
		if rh.path[0] != '/' && (rh.path != "*" || rh.method != http.MethodOptions) {
			return nil, malformed(":path neither absolute nor * for OPTIONS")
		}
	}
	if sawAuthority {
		if !httpguts.ValidHostHeader(rh.authority) || strings.Contains(rh.authority, "@") {
			return nil, malformed("invalid :authority")
		}
		if host != "" && !strings.EqualFold(host, rh.authority) {
			return nil, malformed("host differs from :authority")
		}
	} else if host != "" && !httpguts.ValidHostHeader(host) {
		return nil, malformed("invalid host")
	}
	if rh.authority == "" {
		rh.authority = host
	}
	return rh, nil
}

// checkFieldName reports a field name that RFC 9113 §8.2.1 forbids:
// empty, upper case, or with characters outside a token (after the colon
// of a pseudo-header field).
func checkFieldName(name string) error {
	n := strings.TrimPrefix(name, ":")
	if n == "" {
		return malformed("empty field name")
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if 'A' <= c && c <= 'Z' {
			return malformed("upper-case field name")
		}
		if !httpguts.IsTokenRune(rune(c)) {
			return malformed("invalid field name")
		}
	}
	return nil
}

func parseContentLength(v string) (int64, error) {
	if v == "" || len(v) > 18 {
		return 0, malformed("invalid content-length")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, malformed("invalid content-length")
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, malformed("invalid content-length")
	}
	return n, nil
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !httpguts.IsTokenRune(rune(m[i])) {
			return false
		}
	}
	return true
}

// validScheme is RFC 3986's scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// newRequest makes the *http.Request of a validated head; its context,
// body, remote address and TLS state are the caller's to set.
func (rh *requestHead) newRequest() (*http.Request, error) {
	r := &http.Request{
		Method:        rh.method,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        rh.header,
		Host:          rh.authority,
		ContentLength: rh.contentLength,
		Trailer:       rh.trailer,
	}
	if rh.method == http.MethodConnect {
		r.URL = &url.URL{Host: rh.authority}
		r.RequestURI = rh.authority
		return r, nil
	}
	u, err := url.ParseRequestURI(rh.path)
	if err != nil {
		return nil, malformed("unparsable :path")
	}
	r.URL = u
	r.RequestURI = rh.path
	return r, nil
}

// canonicalKey is the http.Header key of a lower-case field name, without
// allocating for the common ones.
func canonicalKey(name string) string {
	if k, ok := commonCanonical[name]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// lowerKey is the field name of an http.Header key, as HTTP/2 sends it.
func lowerKey(key string) string {
	if k, ok := commonLower[key]; ok {
		return k
	}
	return strings.ToLower(key)
}

var commonCanonical, commonLower = func() (map[string]string, map[string]string) {
	names := []string{
		"accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
		"age", "access-control-allow-origin", "allow", "authorization", "cache-control",
		"content-disposition", "content-encoding", "content-language", "content-length",
		"content-location", "content-range", "content-type", "cookie", "date", "etag",
		"expect", "expires", "from", "host", "if-match", "if-modified-since",
		"if-none-match", "if-unmodified-since", "last-modified", "last-event-id", "link",
		"location", "max-forwards", "origin", "proxy-authenticate", "proxy-authorization",
		"range", "referer", "refresh", "retry-after", "server", "set-cookie",
		"strict-transport-security", "trailer", "user-agent", "vary", "via",
		"www-authenticate", "x-forwarded-for", "x-forwarded-proto", "alt-svc",
		"event", "event-data", "x-accel-buffering",
	}
	canon := make(map[string]string, len(names))
	lower := make(map[string]string, len(names))
	for _, n := range names {
		k := textproto.CanonicalMIMEHeaderKey(n)
		canon[n] = k
		lower[k] = n
	}
	return canon, lower
}()
