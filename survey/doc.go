// Package survey measures what deployed HTTP intermediaries do with SUB.
//
// Each proxy Debian ships is started, with a configuration of its own, in
// front of a subpub origin. Subscribers then count the events that reach
// them through it — by SUB and by SSE, over HTTP/1.1 and HTTP/2 — and a
// second user checks whether an upstream connection the proxy reuses hands
// them the first user's private events (the cross-user exposure that a
// proxy taking a 1xx for the final response could cause). The results are
// written as a dated Markdown table naming every version and configuration
// (draft/survey.md, which the Internet-Draft's deployment considerations
// cite) and as JSON.
//
// `make survey` installs the proxies (survey/install.sh) and runs
// cmd/subpub-survey. A proxy that is not installed is reported as such, not
// skipped silently.
package survey
