// Package conformance tests a SUB/PUB server or intermediary against the
// Internet-Draft in draft/: each check is named after the draft section it
// tests (its anchor, such as "first-106"), cites the requirement it checks
// and its level (MUST, SHOULD, MAY), and passes, fails or is skipped.
//
// [Run] tests a server in the origin role: the suite subscribes to a stream
// of it over every HTTP version it offers, makes it publish through a
// [Publisher] (an ActivityPub outbox, a command, a URL), and checks what
// arrives. [RunIntermediary] tests a proxy: the suite serves a
// [ScriptedServer] as the proxy's upstream, publishes on it directly, and
// compares what the proxy delivers with what it was given.
//
// Both return a [Report] of structured results, which the command line
// prints and writes as JSON, and which a survey of many proxies can drive
// without parsing text.
package conformance
