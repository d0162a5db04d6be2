package wire

// Format is how a subscription's events are written: as PUB interim
// responses or as Server-Sent Events. Servers, intermediaries and clients
// name it the same way, in their APIs and their metrics' labels.
type Format int

const (
	// FormatPUB answers a SUB request with 106 and 105 (PUB) interim
	// responses.
	FormatPUB Format = iota + 1
	// FormatSSE answers a GET that accepts text/event-stream with
	// Server-Sent Events.
	FormatSSE
)

func (f Format) String() string {
	switch f {
	case FormatPUB:
		return "pub"
	case FormatSSE:
		return "sse"
	}
	return "none"
}

// MarshalText names the format as String does, so that it reads as "pub"
// or "sse" in JSON.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// The HTTP versions, as subpub names them in APIs, logs and metrics.
const (
	ProtoHTTP1 = "h1"
	ProtoHTTP2 = "h2"
	ProtoHTTP3 = "h3"
)

// ProtoName names the HTTP version whose major number is major (a
// request's or response's ProtoMajor).
func ProtoName(major int) string {
	switch major {
	case 2:
		return ProtoHTTP2
	case 3:
		return ProtoHTTP3
	}
	return ProtoHTTP1
}
