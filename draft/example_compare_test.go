package draft_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"

	"github.com/subpub/subpub/wire"
)

// The comparison is of structure, not of text. What a server chooses
// afresh for every exchange (event ids, times, object ids, the wording of
// a problem's detail, the length of a payload) cannot be the same as in an
// example; what the protocol defines must be: the sequence of status codes,
// which fields each response has, what Structured Field types their values
// are, the directives, field names and methods they list, the types of
// events, and the shape of their payloads.

// unshownFields are fields a server may send that the examples leave out
// because they describe the connection, not the exchange, or address a
// particular product.
var unshownFields = map[string]bool{
	"Connection":        true,
	"Keep-Alive":        true,
	"Transfer-Encoding": true,
	// Asks nginx not to buffer an event stream (see "Response to GET"
	// in the draft).
	"X-Accel-Buffering": true,
}

// compareStep returns how the step observed (got) differs from the one the
// example shows (want).
func compareStep(want, got step) []string {
	switch {
	case want.item != nil && got.item == nil:
		return []string{fmt.Sprintf("want an event-stream item, %s; got a %s response", want.item, got)}
	case want.item == nil && got.item != nil:
		return []string{fmt.Sprintf("want a %s response; got an event-stream item, %s", want, got.item)}
	case want.item != nil:
		return compareItem(want.item, got.item)
	}
	diffs := compareResponse(want.resp, got.resp)
	if want.resp.StatusCode == got.resp.StatusCode && want.resp.StatusCode >= 200 && !isEventStream(want.resp) {
		diffs = append(diffs, compareContent(want, got)...)
	}
	return diffs
}

// compareResponse compares the status lines and header sections.
func compareResponse(want, got *http.Response) []string {
	if want.StatusCode != got.StatusCode {
		return []string{fmt.Sprintf("want status %d; got %d", want.StatusCode, got.StatusCode)}
	}
	var diffs []string
	// The reason phrase is not compared: recipients ignore it (RFC 9112,
	// Section 4), and net/http writes "status code 105" for codes it does
	// not know.
	if want.Proto != got.Proto {
		diffs = append(diffs, fmt.Sprintf("want the status line of %s; got %s", want.Proto, got.Proto))
	}
	for _, name := range fieldNames(want.Header, got.Header) {
		w, g := want.Header[name], got.Header[name]
		switch {
		case g == nil:
			diffs = append(diffs, fmt.Sprintf("%d: no %s field (want %q)", want.StatusCode, name, strings.Join(w, ", ")))
		case w == nil:
			diffs = append(diffs, fmt.Sprintf("%d: a %s field the example does not show: %q", want.StatusCode, name, strings.Join(g, ", ")))
		default:
			for _, d := range compareField(name, want.Header, got.Header) {
				diffs = append(diffs, fmt.Sprintf("%d: %s: %s", want.StatusCode, name, d))
			}
		}
	}
	return diffs
}

// fieldNames are the names of the fields of either header, but for
// unshownFields.
func fieldNames(a, b http.Header) []string {
	var names []string
	for _, h := range []http.Header{a, b} {
		for name := range h {
			if !unshownFields[name] && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// compareField compares the values of a field both headers have, by what
// the field's definition makes significant.
func compareField(name string, want, got http.Header) []string {
	switch name {
	case wire.FieldEvent:
		return compareEvent(want, got)
	case wire.FieldEventData:
		return compareEventData(want, got)
	case wire.FieldSubscriptionSharing:
		if w, g := strings.TrimSpace(want.Get(name)), strings.TrimSpace(got.Get(name)); w != g {
			return []string{fmt.Sprintf("want %s; got %q", w, g)}
		}
	case "Cache-Control":
		return compareSets("directives", listNames(want.Values(name), true), listNames(got.Values(name), true))
	case "Vary":
		return compareSets("field names", listNames(want.Values(name), true), listNames(got.Values(name), true))
	case "Allow":
		return compareSets("methods", listNames(want.Values(name), false), listNames(got.Values(name), false))
	case "Retry-After":
		if w, g := retryAfterForm(want.Get(name)), retryAfterForm(got.Get(name)); w != g {
			return []string{fmt.Sprintf("want %s; got %s (%q)", w, g, got.Get(name))}
		}
	case "Www-Authenticate":
		return compareChallenge(want.Get(name), got.Get(name))
	case "Content-Type":
		w, _, _ := mime.ParseMediaType(want.Get(name))
		g, _, _ := mime.ParseMediaType(got.Get(name))
		if w != g {
			return []string{fmt.Sprintf("want %s; got %q", w, got.Get(name))}
		}
	}
	// Any other field (Date, Content-Length) need only be there.
	return nil
}

// listNames returns the names of the members of a comma-separated list, as
// in Cache-Control ("max-age=60" is named max-age), Vary and Allow.
func listNames(values []string, fold bool) []string {
	var names []string
	for _, v := range values {
		for m := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(m), "=")
			if fold {
				name = strings.ToLower(name)
			}
			if name != "" {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func compareSets(what string, want, got []string) []string {
	if !slices.Equal(want, got) {
		return []string{fmt.Sprintf("want the %s %v; got %v", what, want, got)}
	}
	return nil
}

// retryAfterForm tells which form of Retry-After a value has (RFC 9110,
// Section 10.2.3).
func retryAfterForm(v string) string {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return "delay-seconds"
	}
	if _, err := http.ParseTime(v); err == nil {
		return "HTTP-date"
	}
	return "neither delay-seconds nor an HTTP-date"
}

// compareChallenge compares the auth-scheme of a challenge and the names of
// its parameters.
func compareChallenge(want, got string) []string {
	parse := func(v string) (string, []string) {
		scheme, params, _ := strings.Cut(v, " ")
		return strings.ToLower(scheme), listNames([]string{params}, true)
	}
	ws, wp := parse(want)
	gs, gp := parse(got)
	if ws != gs {
		return []string{fmt.Sprintf("want the scheme %s; got %q", ws, got)}
	}
	return compareSets("parameters", wp, gp)
}

// compareEvent compares the Event fields: both decode as the code decodes
// them, and are Dictionaries with the same members, of the same types; the
// type of the event is the same, a ref names the same resource but for
// the event's id, and a gap the same URI.
func compareEvent(want, got http.Header) []string {
	var diffs []string
	if _, err := wire.DecodePUB(want); err != nil {
		diffs = append(diffs, "the example's event does not decode: "+err.Error())
	}
	if _, err := wire.DecodePUB(got); err != nil {
		diffs = append(diffs, "does not decode: "+err.Error())
	}
	wd, err := httpsfv.UnmarshalDictionary(want.Values(wire.FieldEvent))
	if err != nil {
		return append(diffs, "the example's is not a Dictionary: "+err.Error())
	}
	gd, err := httpsfv.UnmarshalDictionary(got.Values(wire.FieldEvent))
	if err != nil {
		return append(diffs, "not a Dictionary: "+err.Error())
	}
	wantNames, gotNames := slices.Sorted(slices.Values(wd.Names())), slices.Sorted(slices.Values(gd.Names()))
	if !slices.Equal(wantNames, gotNames) {
		diffs = append(diffs, fmt.Sprintf("want the members %v; got %v (%q)", wantNames, gotNames, got.Values(wire.FieldEvent)))
	}
	wantID, gotID := memberValue(wd, "id"), memberValue(gd, "id")
	for _, name := range wantNames {
		wm, _ := wd.Get(name)
		gm, ok := gd.Get(name)
		if !ok {
			continue
		}
		if w, g := sfKind(wm), sfKind(gm); w != g {
			diffs = append(diffs, fmt.Sprintf("want %s to be %s; got %s", name, w, g))
			continue
		}
		if w, g := paramNames(wm), paramNames(gm); !slices.Equal(w, g) {
			diffs = append(diffs, fmt.Sprintf("want the parameters %v on %s; got %v", w, name, g))
		}
		w, g := memberValue(wd, name), memberValue(gd, name)
		switch name {
		case "type":
			if w != g {
				diffs = append(diffs, fmt.Sprintf("want type %v; got %v", w, g))
			}
		case "ref":
			if w, g := withoutID(w, wantID), withoutID(g, gotID); w != g {
				diffs = append(diffs, fmt.Sprintf("want ref %s; got %s", w, g))
			}
		case "gap":
			diffs = append(diffs, comparePayload(w, g)...)
		}
	}
	return diffs
}

// compareEventData compares the Event-Data fields: Items of the same type
// whose payloads have the same shape.
func compareEventData(want, got http.Header) []string {
	wi, err := httpsfv.UnmarshalItem(want.Values(wire.FieldEventData))
	if err != nil {
		return []string{"the example's is not an Item: " + err.Error()}
	}
	gi, err := httpsfv.UnmarshalItem(got.Values(wire.FieldEventData))
	if err != nil {
		return []string{"not an Item: " + err.Error()}
	}
	if w, g := sfKind(wi), sfKind(gi); w != g {
		return []string{fmt.Sprintf("want %s; got %s", w, g)}
	}
	w, _ := wi.Value.(string)
	g, _ := gi.Value.(string)
	return comparePayload(w, g)
}

// comparePayload compares the payloads of two events: JSON of the same
// shape (see matchJSON), or the same URI (a gap's); other text is not
// compared.
func comparePayload(want, got string) []string {
	var w, g any
	switch {
	case json.Unmarshal([]byte(want), &w) == nil:
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			return []string{fmt.Sprintf("want JSON; got %q", got)}
		}
		return matchJSON("payload", w, g)
	case strings.HasPrefix(want, "https://"), strings.HasPrefix(want, "http://"):
		if want != got {
			return []string{fmt.Sprintf("want the URI %s; got %q", want, got)}
		}
	}
	return nil
}

// compareContent compares the content of final responses: a problem
// detail, for instance, has the same members, status and title.
func compareContent(want, got step) []string {
	switch {
	case len(want.content) == 0 && len(got.content) == 0:
		return nil
	case len(want.content) == 0:
		return []string{fmt.Sprintf("%d: content the example does not show: %q", want.resp.StatusCode, got.content)}
	case len(got.content) == 0:
		return []string{fmt.Sprintf("%d: no content", want.resp.StatusCode)}
	}
	var w, g any
	if json.Unmarshal(want.content, &w) != nil {
		return nil
	}
	if err := json.Unmarshal(got.content, &g); err != nil {
		return []string{fmt.Sprintf("%d: want JSON content; got %q", want.resp.StatusCode, got.content)}
	}
	return matchJSON("content", w, g)
}

// matchJSON reports where got lacks the shape of want. Examples abbreviate
// JSON, so got may have more members than want, but every member want has
// must be in got with a value of the same JSON type. The values of members
// that classify ("type" in Activity Streams, "title" and "status" in a
// problem detail) must be equal; other strings are text that an example
// only illustrates, and "..." stands for any value.
func matchJSON(path string, want, got any) []string {
	if want == "..." {
		return nil
	}
	if w, g := jsonKind(want), jsonKind(got); w != g {
		return []string{fmt.Sprintf("want %s to be a JSON %s; got %s", path, w, g)}
	}
	var diffs []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(w)) {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("want %s.%s; it has none", path, k))
				continue
			}
			diffs = append(diffs, matchJSON(path+"."+k, w[k], gv)...)
		}
	case []any:
		g := got.([]any)
		if len(g) < len(w) {
			return []string{fmt.Sprintf("want %s to have at least %d elements; it has %d", path, len(w), len(g))}
		}
		for i := range w {
			diffs = append(diffs, matchJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
	case float64:
		if w != got.(float64) {
			diffs = append(diffs, fmt.Sprintf("want %s = %v; got %v", path, w, got))
		}
	case string:
		member := path[strings.LastIndexByte(path, '.')+1:]
		if (member == "type" || member == "title") && w != got.(string) {
			diffs = append(diffs, fmt.Sprintf("want %s = %q; got %q", path, w, got))
		}
	}
	return diffs
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

// compareItem compares items of event streams: a comment with a comment; a
// block with a block of the same fields in the same order, of which the
// event type is the same, the numbers are numbers, ids are not empty, and
// the data have the same shape.
func compareItem(want, got *sseItem) []string {
	if want.comment != got.comment || len(want.fields) != len(got.fields) {
		return []string{fmt.Sprintf("want %s; got %s", want, got)}
	}
	var diffs []string
	for i, w := range want.fields {
		g := got.fields[i]
		if w.name != g.name {
			return []string{fmt.Sprintf("want %s; got %s", want, got)}
		}
		switch w.name {
		case "event":
			if w.value != g.value {
				diffs = append(diffs, fmt.Sprintf("want event %s; got %s", w.value, g.value))
			}
		case "retry", "t":
			if !isDigits(g.value) {
				diffs = append(diffs, fmt.Sprintf("want %s to be a number; got %q", w.name, g.value))
			}
		case "id":
			if g.value == "" {
				diffs = append(diffs, "want an id; got an empty one")
			}
		case "ref":
			wantID, _ := want.field("id")
			gotID, _ := got.field("id")
			if w, g := withoutID(w.value, wantID), withoutID(g.value, gotID); w != g {
				diffs = append(diffs, fmt.Sprintf("want ref %s; got %s", w, g))
			}
		}
	}
	if _, ok := want.field("data"); ok {
		diffs = append(diffs, comparePayload(want.data(), got.data())...)
	}
	return diffs
}

func isDigits(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// sfKind names the type of a Structured Field member's value.
func sfKind(m httpsfv.Member) string {
	item, ok := m.(httpsfv.Item)
	if !ok {
		return "an Inner List"
	}
	switch item.Value.(type) {
	case int64:
		return "an Integer"
	case float64:
		return "a Decimal"
	case string:
		return "a String"
	case httpsfv.Token:
		return "a Token"
	case []byte:
		return "a Byte Sequence"
	case bool:
		return "a Boolean"
	case time.Time:
		return "a Date"
	case httpsfv.DisplayString:
		return "a Display String"
	}
	return fmt.Sprintf("%T", item.Value)
}

func paramNames(m httpsfv.Member) []string {
	var p *httpsfv.Params
	switch v := m.(type) {
	case httpsfv.Item:
		p = v.Params
	case httpsfv.InnerList:
		p = v.Params
	}
	if p == nil {
		return nil
	}
	return slices.Sorted(slices.Values(p.Names()))
}

// memberValue is the bare value of a Dictionary member, as a string.
func memberValue(d *httpsfv.Dictionary, name string) string {
	m, ok := d.Get(name)
	if !ok {
		return ""
	}
	if item, ok := m.(httpsfv.Item); ok {
		return fmt.Sprint(item.Value)
	}
	return ""
}

// withoutID replaces an event's id in s (a URI that names the event) by a
// placeholder.
func withoutID(s, id string) string {
	if id == "" {
		return s
	}
	return strings.ReplaceAll(s, id, "{id}")
}
