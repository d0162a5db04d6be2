package benchmarks

import "fmt"

// The workload's events: alice posts a public Create{Note} to her outbox,
// about 300 bytes as posted; the origin emits an Add on the outbox stream
// whose data embeds the activity (with the ids, actor and dates it
// assigns), which is what subscribers receive.

// benchUser and benchToken are the origin's one actor and its bearer token.
const (
	benchUser  = "alice"
	benchToken = "bench-token"
	outboxPath = "/users/" + benchUser + "/outbox"
)

// noteActivity is the body posted to the outbox: about 300 bytes.
func noteActivity(originURL string) []byte {
	const public = "https://www.w3.org/ns/activitystreams#Public"
	followers := originURL + "/users/" + benchUser + "/followers"
	const content = "Benchmarking publish/subscribe over HTTP: one subscription upstream, many downstream."
	return fmt.Appendf(nil, `{"@context":"https://www.w3.org/ns/activitystreams","type":"Create","to":[%q],"cc":[%q],"object":{"type":"Note","content":%q}}`,
		public, followers, content)
}
