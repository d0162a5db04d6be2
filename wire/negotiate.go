package wire

import (
	"net/http"
	"strings"

	"github.com/dunglas/httpsfv"
)

// Per-hop negotiation: a hop that implements SUB says so, so that a client
// can tell a subscription acknowledged by the next hop from a 106 that an
// intermediary which does not implement SUB passed on, took for a final
// response, or dropped.
//
// On HTTP/2 and HTTP/3 the server advertises SettingEnableSUB in its
// SETTINGS, as RFC 8441 and RFC 9220 do for extended CONNECT. On HTTP/1.1
// the client sends FieldEnableSUB listed in Connection, so that an
// intermediary which does not implement SUB removes it (RFC 9110, Section
// 7.6.1), and a server that implements SUB answers with the same field,
// listed in Connection, on the 106 that acknowledges the subscription. On
// every version, that field is what marks the acknowledgement: a 106
// without it only keeps the subscription alive.
const (
	// SettingEnableSUB is the SETTINGS parameter that says the sender
	// serves SUB on this connection (value 1). The identifier is a
	// placeholder until one is registered: it lies in HTTP/2's range for
	// experimental use (0xf000-0xffff, RFC 9113 Section 11.1) and is not
	// a reserved (GREASE) value in HTTP/3's space (RFC 9114 Section 7.2.4.1).
	SettingEnableSUB = 0xf5b0

	// FieldEnableSUB is the hop-by-hop field of the negotiation on
	// HTTP/1.1, in a request and on the acknowledging 106, and the mark
	// of that 106 on every version. Its value is the Structured Field
	// Boolean true ("?1").
	FieldEnableSUB = "Enable-SUB"
)

// EnableSUBValue is FieldEnableSUB's value.
const EnableSUBValue = "?1"

// EnablesSUB reports whether h carries FieldEnableSUB with the value true:
// on a 106, it is the acknowledgement of a subscription.
func EnablesSUB(h http.Header) bool {
	v := h.Values(FieldEnableSUB)
	if len(v) == 0 {
		return false
	}
	item, err := httpsfv.UnmarshalItem(v)
	if err != nil {
		return false
	}
	b, ok := item.Value.(bool)
	return ok && b
}

// HopEnablesSUB reports whether an HTTP/1.1 message's header h negotiates
// SUB for its hop: FieldEnableSUB true, and named in Connection, so that an
// intermediary that does not implement SUB would have removed it rather
// than passed it on.
func HopEnablesSUB(h http.Header) bool {
	return EnablesSUB(h) && ConnectionLists(h, FieldEnableSUB)
}

// ConnectionLists reports whether the Connection field of h names option
// (connection options are case-insensitive tokens, RFC 9110 Section 7.6.1).
func ConnectionLists(h http.Header, option string) bool {
	for _, v := range h.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), option) {
				return true
			}
		}
	}
	return false
}

// SetHopEnablesSUB adds the HTTP/1.1 negotiation to h: FieldEnableSUB, and
// its name in Connection (after any option already there).
func SetHopEnablesSUB(h http.Header) {
	h.Set(FieldEnableSUB, EnableSUBValue)
	if !ConnectionLists(h, FieldEnableSUB) {
		h.Add("Connection", FieldEnableSUB)
	}
}
