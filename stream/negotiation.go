package stream

import (
	"net/http"

	"github.com/subpub/subpub/wire"
)

// Settings are the SETTINGS parameters of a server that serves
// subscriptions through a Streamer, for host.Server.Settings: HTTP/2 and
// HTTP/3 clients learn from them that this hop serves SUB before they ask
// (see wire.SettingEnableSUB).
func Settings() map[uint16]uint32 {
	return map[uint16]uint32{wire.SettingEnableSUB: 1}
}

// acknowledgementFields are the fields that mark the 106 acknowledging a
// subscription to r as this hop's acknowledgement: Enable-SUB on HTTP/2 and
// HTTP/3, whose SETTINGS said already that the hop serves SUB; on HTTP/1.1,
// Enable-SUB named in Connection, but only in answer to a request that
// negotiated it so (wire.HopEnablesSUB). A request without it may have come
// through an intermediary that does not implement SUB and removed the
// client's: answered without the mark, its 106 tells the client that some
// hop did not negotiate, even through an intermediary that forwards the
// server's hop-by-hop fields.
func acknowledgementFields(r *http.Request) http.Header {
	switch {
	case r.ProtoMajor >= 2:
		return http.Header{http.CanonicalHeaderKey(wire.FieldEnableSUB): {wire.EnableSUBValue}}
	case wire.HopEnablesSUB(r.Header):
		h := http.Header{}
		wire.SetHopEnablesSUB(h)
		return h
	}
	return nil
}
