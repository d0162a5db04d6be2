package benchmarks

// System is one way of delivering the stream to the subscribers: a server
// (or chain of servers), a protocol and an encoding.
type System struct {
	// Name identifies the system in flags and results, e.g. "edge-sub-h2".
	Name string `json:"name"`
	// Label is how the report names it.
	Label string `json:"label"`
	// Server is what serves the subscribers: serverOrigin, serverEdge,
	// serverBare, serverNchan or serverVarnish.
	Server string `json:"server"`
	// Proto is "h1", "h2" or "h3"; Format "sse" or "pub".
	Proto  string `json:"proto"`
	Format string `json:"format"`
	// Peer marks the systems compared with only when asked (--peers).
	Peer bool `json:"peer,omitempty"`
	// Sweep marks the systems of the sweep; the others are measured only
	// for memory and bytes per event.
	Sweep bool `json:"sweep"`
}

// Servers a system can have in front of its subscribers.
const (
	serverOrigin  = "origin"
	serverEdge    = "edge"
	serverBare    = "bare"
	serverNchan   = "nchan"
	serverVarnish = "varnish"
)

// Names of the reference rows.
const (
	baselineSystem = "origin-sse-h1"
	limitSystem    = "bare-sse-h1"
)

// Systems lists every system the harness knows, in report order: the
// baseline, the edge's, the physical limit, the peers.
func Systems() []System {
	return []System{
		{Name: baselineSystem, Label: "origin SSE h1 (baseline)", Server: serverOrigin, Proto: "h1", Format: "sse", Sweep: true},
		{Name: "edge-sse-h1", Label: "edge SSE h1", Server: serverEdge, Proto: "h1", Format: "sse", Sweep: true},
		{Name: "edge-sub-h1", Label: "edge SUB h1", Server: serverEdge, Proto: "h1", Format: "pub"},
		{Name: "edge-sse-h2", Label: "edge SSE h2", Server: serverEdge, Proto: "h2", Format: "sse", Sweep: true},
		{Name: "edge-sub-h2", Label: "edge SUB h2", Server: serverEdge, Proto: "h2", Format: "pub", Sweep: true},
		{Name: "edge-sse-h3", Label: "edge SSE h3", Server: serverEdge, Proto: "h3", Format: "sse", Sweep: true},
		{Name: "edge-sub-h3", Label: "edge SUB h3", Server: serverEdge, Proto: "h3", Format: "pub", Sweep: true},
		{Name: limitSystem, Label: "bare socket limit (SSE h1)", Server: serverBare, Proto: "h1", Format: "sse", Sweep: true},
		{Name: "nchan-sse-h1", Label: "nginx+nchan SSE h1", Server: serverNchan, Proto: "h1", Format: "sse", Peer: true, Sweep: true},
		{Name: "varnish-sse-h1", Label: "Varnish (coalescing) SSE h1", Server: serverVarnish, Proto: "h1", Format: "sse", Peer: true, Sweep: true},
	}
}

// multiplexed reports whether the system's subscriptions share connections.
func (s System) multiplexed() bool { return s.Proto == "h2" || s.Proto == "h3" }

// systemByName finds a system of Systems.
func systemByName(name string) (System, bool) {
	for _, s := range Systems() {
		if s.Name == name {
			return s, true
		}
	}
	return System{}, false
}
