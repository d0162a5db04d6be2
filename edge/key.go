package edge

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/subpub/subpub/wire"
)

// policy is what the upstream said about a stream in its first 106 (or SSE
// response): whether intermediaries may share it (Subscription-Sharing:
// shared) and which request fields select it (Vary). The edge remembers it
// per target URI, as a cache remembers Vary, to key later subscriptions.
type policy struct {
	shareable bool
	vary      []string // canonical field names
	// unique is set by Vary: *: the stream depends on more than fields,
	// so no two requests may share it.
	unique bool
}

// policyFrom reads a policy from a stream's response fields:
// Subscription-Sharing if they have it. Without it (a server that does not
// know the field, as a plain text/event-stream server does not), a
// response's Cache-Control is read as RFC 9111 has it: "private" or
// "no-store" keep it from being shared, "public" lets it be; and without
// either, a stream requested with credentials is per-credential and one
// requested without is shared (RFC 9111 §3.5).
func policyFrom(h http.Header, withCredentials bool) policy {
	if shared, ok := wire.ParseSharing(h); ok {
		return withVary(policy{shareable: shared}, h)
	}
	p := policy{shareable: !withCredentials}
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "public":
				p.shareable = true
			case "private", "no-store":
				p.shareable = false
				return withVary(p, h)
			}
		}
	}
	return withVary(p, h)
}

// hasCredentials reports whether h carries any credential field.
func hasCredentials(h http.Header) bool {
	for _, name := range credentialFields {
		if len(h.Values(name)) > 0 {
			return true
		}
	}
	return false
}

func withVary(p policy, h http.Header) policy {
	for _, v := range h.Values("Vary") {
		for name := range strings.SplitSeq(v, ",") {
			switch name = strings.TrimSpace(name); name {
			case "":
			case "*":
				p.unique, p.shareable = true, false
			default:
				p.vary = append(p.vary, http.CanonicalHeaderKey(name))
			}
		}
	}
	return p
}

// credentialFields identify the requester; a stream not marked shareable is
// never served to a different set of them.
var credentialFields = []string{"Authorization", "Cookie"}

// subscriptionKey names the upstream subscription a request can share: the
// target URI, the values of the fields the upstream varies on, and, unless
// the upstream marked the stream shareable, a digest of the credentials.
// Without a known policy the stream is presumed private.
func subscriptionKey(uri string, r *http.Request, p *policy) string {
	var b strings.Builder
	switch {
	case p == nil:
		b.WriteString("?\x00")
	case p.shareable:
		b.WriteString("public\x00")
	default:
		b.WriteString("private\x00")
	}
	b.WriteString(uri)
	if p != nil && p.unique {
		b.WriteByte(0)
		b.WriteString(rand.Text()) // never equal to another request's
	}
	if p == nil || !p.shareable {
		b.WriteByte(0)
		b.WriteString(credentialDigest(r))
	}
	if p != nil {
		for _, name := range p.vary {
			b.WriteByte(0)
			b.WriteString(name)
			b.WriteByte(':')
			b.WriteString(strings.Join(r.Header.Values(name), ","))
		}
	}
	return b.String()
}

// credentialDigest is a digest of the request's credentials, so that keys
// (which appear in no log, but live in memory) do not hold tokens.
func credentialDigest(r *http.Request) string {
	h := sha256.New()
	for _, name := range credentialFields {
		for _, v := range r.Header.Values(name) {
			h.Write([]byte(name))
			h.Write([]byte{0})
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// upstreamHeader is the request fields an upstream subscription is opened
// with: the credentials and whatever the upstream varies on. Everyone who
// shares the subscription has the same values of these (the key says so).
func upstreamHeader(r *http.Request, p *policy) http.Header {
	h := http.Header{}
	copyField := func(name string) {
		switch name {
		case "Accept", "Last-Event-Id", "Cache-Control":
			return // the edge chooses these for its own upstream request
		}
		if v := r.Header.Values(name); len(v) > 0 {
			h[name] = v
		}
	}
	for _, name := range credentialFields {
		copyField(name)
	}
	if p != nil {
		for _, name := range p.vary {
			copyField(name)
		}
	}
	return h
}
