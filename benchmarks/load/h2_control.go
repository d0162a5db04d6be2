package load

import "golang.org/x/net/http2"

// AckControl acknowledges f if it is a SETTINGS or PING frame that asks for
// an acknowledgement, as every HTTP/2 endpoint must (RFC 9113, sections 6.5
// and 6.7): the raw-frame clients of the benchmarks call it on every frame
// they read, so that the server does not close an unanswering connection.
func AckControl(fr *http2.Framer, f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if !f.IsAck() {
			return fr.WriteSettingsAck()
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			return fr.WritePing(true, f.Data)
		}
	}
	return nil
}
