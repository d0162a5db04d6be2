package edge

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// The rules by which the cache reads a response: which directives apply
// (RFC 9111 §5.2, RFC 9213 §2.1), whether it may be stored (RFC 9111 §3,
// §3.5, §4.1), how long it is fresh (§4.2.1) and how old it is (§4.2.3,
// §5.1). Every field is parsed strictly: a value that does not match its
// grammar is invalid, and an invalid freshness makes a response stale,
// never fresher.

// DefaultControlField is the targeted cache-control field the edge obeys
// ahead of Cache-Control (RFC 9213 §2.1): the one every CDN tier reads.
const DefaultControlField = "CDN-Cache-Control"

// maxDeltaSeconds is what a delta-seconds too large to represent counts
// as (RFC 9111 §1.2.2).
const maxDeltaSeconds = 2147483648

// directives are cache directives by lowercase name; a directive without
// an argument has the value "".
type directives map[string]string

func (d directives) has(name string) bool {
	_, ok := d[name]
	return ok
}

// fields are the field names of a qualified directive, such as
// private="Set-Cookie" or no-cache="X-Token" (RFC 9111 §5.2.2.4,
// §5.2.2.7); none for an unqualified one.
func (d directives) fields(name string) []string {
	var names []string
	for field := range strings.SplitSeq(d[name], ",") {
		if field = strings.TrimSpace(field); field != "" {
			names = append(names, http.CanonicalHeaderKey(field))
		}
	}
	return names
}

// unqualified reports whether d has the directive name without field
// names, which applies to the whole response.
func (d directives) unqualified(name string) bool {
	return d.has(name) && len(d.fields(name)) == 0
}

// withoutQualifiedFields removes from h, fields of a response to store,
// those its qualified private and no-cache name: a shared cache stores
// neither (RFC 9111 §5.2.2.7; §5.2.2.4 allows reuse only after validation,
// and the cache keeps them out of what it serves without).
func withoutQualifiedFields(h http.Header, d directives) {
	for _, name := range append(d.fields("private"), d.fields("no-cache")...) {
		h.Del(name)
	}
}

// cacheControl parses the Cache-Control field lines (RFC 9111 §5.2): a
// comma-separated list of name[=token|quoted-string]. When a directive
// appears more than once, the first occurrence counts (§4.2.1).
func cacheControl(h http.Header) directives {
	d := directives{}
	for _, v := range h.Values("Cache-Control") {
		for part := range strings.SplitSeq(v, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" || d.has(name) {
				continue
			}
			if unq, err := strconv.Unquote(value); err == nil && strings.HasPrefix(value, `"`) {
				value = unq
			}
			d[name] = value
		}
	}
	return d
}

// targetedControl parses a targeted cache-control field (RFC 9213 §2): a
// Structured Field Dictionary (RFC 9651). ok is false when the field is
// absent or invalid, in which case the cache ignores it (§2.1), as it does
// one whose max-age or s-maxage is not an Integer.
func targetedControl(h http.Header, field string) (d directives, ok bool) {
	lines := h.Values(field)
	if len(lines) == 0 {
		return nil, false
	}
	dict, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return nil, false
	}
	d = directives{}
	for _, name := range dict.Names() {
		m, _ := dict.Get(name)
		item, isItem := m.(httpsfv.Item)
		switch v := item.Value; {
		case !isItem:
			// An inner list: the field names of private=("Set-Cookie"),
			// say.
			var names []string
			if list, isList := m.(httpsfv.InnerList); isList {
				for _, it := range list.Items {
					if s, isString := it.Value.(string); isString {
						names = append(names, s)
					}
				}
			}
			d[name] = strings.Join(names, ",")
		case name == "max-age" || name == "s-maxage":
			n, isInt := v.(int64)
			if !isInt || n < 0 {
				return nil, false
			}
			d[name] = strconv.FormatInt(n, 10)
		default:
			switch v := v.(type) {
			case int64:
				d[name] = strconv.FormatInt(v, 10)
			case string:
				d[name] = v
			case httpsfv.Token:
				d[name] = string(v)
			default:
				d[name] = ""
			}
		}
	}
	return d, true
}

// responseDirectives are the directives the cache obeys for a response:
// those of the targeted field when it is present and valid, which then
// replaces Cache-Control entirely (RFC 9213 §2.1), else Cache-Control's.
func (c *Cache) responseDirectives(h http.Header) directives {
	if d, ok := targetedControl(h, c.controlField()); ok {
		return d
	}
	return cacheControl(h)
}

// deltaSeconds parses delta-seconds (RFC 9111 §1.2.2): digits only; a
// value too large counts as 2147483648 seconds.
func deltaSeconds(s string) (time.Duration, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > maxDeltaSeconds {
		n = maxDeltaSeconds
	}
	return time.Duration(n) * time.Second, true
}

// ageValue is the Age field's value (RFC 9111 §5.1): the first member of
// the first line, which must be delta-seconds; anything else is ignored,
// as if the field were absent.
func ageValue(h http.Header) time.Duration {
	lines := h.Values("Age")
	if len(lines) == 0 {
		return 0
	}
	first, _, _ := strings.Cut(lines[0], ",")
	age, ok := deltaSeconds(strings.TrimSpace(first))
	if !ok {
		return 0
	}
	return age
}

// httpDateLayouts are the formats of an HTTP-date (RFC 9110 §5.6.7):
// IMF-fixdate, and the obsolete RFC 850 and asctime formats recipients
// must accept.
var httpDateLayouts = [...]string{http.TimeFormat, "Monday, 02-Jan-06 15:04:05 GMT", time.ANSIC}

// parseHTTPDate parses an HTTP-date strictly: the value must be exactly
// one of the three formats (the names' case aside), so that several
// spaces, a one-digit hour or a time zone other than GMT are invalid,
// which time.Parse alone would accept. The day name must be one, but need
// not be the date's: the grammar does not tie them. A two-digit year more
// than 50 years ahead is in the past century (RFC 9110 §5.6.7).
func parseHTTPDate(s string, now time.Time) (time.Time, bool) {
	upper := strings.ToUpper(s)
	for i, layout := range httpDateLayouts {
		t, err := time.Parse(layout, upper)
		if err != nil {
			continue
		}
		if i == 1 {
			year := now.Year()/100*100 + t.Year()%100
			if year > now.Year()+50 {
				year -= 100
			}
			t = t.AddDate(year-t.Year(), 0, 0)
		}
		if strings.EqualFold(afterDayName(t.Format(layout)), afterDayName(s)) {
			return t, true
		}
	}
	return time.Time{}, false
}

// afterDayName is an HTTP-date without its day name: what follows the
// comma of IMF-fixdate and RFC 850, the space of asctime.
func afterDayName(date string) string {
	if i := strings.IndexAny(date, ", "); i >= 0 {
		return date[i:]
	}
	return date
}

// singleDate is the one HTTP-date of a field; several field lines, like
// an invalid date, are no date (RFC 9111 §4.2.1: then the response is
// stale).
func singleDate(h http.Header, name string, now time.Time) (time.Time, bool) {
	lines := h.Values(name)
	if len(lines) != 1 {
		return time.Time{}, false
	}
	return parseHTTPDate(lines[0], now)
}

// freshnessLifetime follows RFC 9111 §4.2.1 for a shared cache: s-maxage,
// then max-age, then Expires minus Date. An invalid or repeated Expires
// means a time in the past (§5.3); no-cache means every use is validated
// first (§5.2.2.4; no-cache naming fields only keeps those out of
// storage). No heuristic freshness (§4.2.2): a response without
// explicit freshness is not stored at all.
func freshnessLifetime(d directives, h http.Header, received time.Time) time.Duration {
	if d.unqualified("no-cache") {
		return 0
	}
	for _, name := range []string{"s-maxage", "max-age"} {
		if v, ok := d[name]; ok {
			lifetime, _ := deltaSeconds(v)
			return lifetime
		}
	}
	if len(h.Values("Expires")) == 0 {
		return 0
	}
	expires, ok := singleDate(h, "Expires", received)
	if !ok {
		return 0
	}
	date, ok := singleDate(h, "Date", received)
	if !ok {
		date = received
	}
	return max(expires.Sub(date), 0)
}

// initialAge is corrected_initial_age (RFC 9111 §4.2.3) of a response
// received now: the larger of its apparent age (now minus Date) and its
// Age.
func initialAge(h http.Header, received time.Time) time.Duration {
	age := ageValue(h)
	if date, ok := singleDate(h, "Date", received); ok {
		age = max(age, received.Sub(date))
	}
	return max(age, 0)
}

// varyNames are the request fields a response varies on, from every Vary
// field line (RFC 9111 §4.1), and whether one is "*", which no request
// matches.
func varyNames(h http.Header) (names []string, star bool) {
	for _, v := range h.Values("Vary") {
		for name := range strings.SplitSeq(v, ",") {
			switch name = strings.TrimSpace(name); name {
			case "":
			case "*":
				star = true
			default:
				names = append(names, http.CanonicalHeaderKey(name))
			}
		}
	}
	return names, star
}

// storable applies RFC 9111 §3 to a response of the shared cache, with the
// directives that apply to it: a final status other than 206 (ranges are
// not stored) and 304, neither no-store (unless must-understand, which
// then stores only a registered status, whose semantics the cache
// follows: §5.2.2.3) nor private (§5.2.2.5, §5.2.2.7),
// no Set-Cookie, no Vary: * (§4.1), a request with credentials only if
// the response allows sharing (§3.5), and explicit freshness or no-cache:
// without heuristics (§4.2.2), nothing else would be reused.
func storable(r *http.Request, resp *http.Response, d directives) bool {
	if resp.StatusCode < 200 || resp.StatusCode == http.StatusPartialContent || resp.StatusCode == http.StatusNotModified {
		return false
	}
	if d.has("must-understand") {
		if http.StatusText(resp.StatusCode) == "" {
			return false // a status the cache does not know (§5.2.2.3)
		}
	} else if d.has("no-store") {
		return false
	}
	if d.unqualified("private") || resp.Header.Get("Set-Cookie") != "" {
		return false
	}
	if _, star := varyNames(resp.Header); star {
		return false
	}
	if r.Header.Get("Authorization") != "" && !d.has("public") && !d.has("s-maxage") && !d.has("must-revalidate") {
		return false
	}
	return d.has("max-age") || d.has("s-maxage") || d.has("no-cache") || len(resp.Header.Values("Expires")) > 0
}

// ageSeconds is an Age field value for age (RFC 9111 §5.1).
func ageSeconds(age time.Duration) string {
	return strconv.FormatInt(min(int64(age/time.Second), maxDeltaSeconds), 10)
}
