package wire

import (
	"net/http"

	"github.com/dunglas/httpsfv"
)

// FieldSubscriptionSharing is the field of the first 106 (and of the 200
// response of text/event-stream) that says whether an intermediary may
// serve the stream to clients other than the one that asked: an sf-token,
// SharingShared or SharingPerCredential. It takes the place of
// Cache-Control, which RFC 9111 defines for stored responses, not for
// subscriptions, and whose "private" says the opposite of what a
// subscription needs (a shared cache must not store the response at all).
const FieldSubscriptionSharing = "Subscription-Sharing"

// The values of Subscription-Sharing.
const (
	// SharingShared: the stream's events are the same for every client
	// permitted to subscribe, and every request for the same target URI
	// whose Vary fields match is permitted: an intermediary may serve it
	// to them, whatever credentials they present, or none.
	SharingShared = "shared"
	// SharingPerCredential: the stream is served to the credentials that
	// subscribed; an intermediary serves it to no client presenting other
	// ones, and serves it again to the same ones only on a decision of the
	// server that is fresh enough.
	SharingPerCredential = "per-credential"
)

// SharingValue is the Subscription-Sharing value for a stream that may
// be shared or not.
func SharingValue(shared bool) string {
	if shared {
		return SharingShared
	}
	return SharingPerCredential
}

// ParseSharing reads Subscription-Sharing from h: whether the stream may
// be shared, and whether h says (ok is false when the field is absent,
// malformed, or has a value this package does not know, which a recipient
// treats as absent).
func ParseSharing(h http.Header) (shared, ok bool) {
	lines := h.Values(FieldSubscriptionSharing)
	if len(lines) == 0 {
		return false, false
	}
	item, err := httpsfv.UnmarshalItem(lines)
	if err != nil {
		return false, false
	}
	switch v, _ := item.Value.(httpsfv.Token); v {
	case SharingShared:
		return true, true
	case SharingPerCredential:
		return false, true
	}
	return false, false
}
