// Package stream serves subscriptions, whatever their events come from: the
// origin's durable log and the edge's upstream subscriptions both end here.
//
//   - A [Topic] is a stream's bounded ring of recent events, read by any
//     number of subscribers through their own [Cursor]s; publishing never
//     waits for a subscriber.
//   - A [Feed] is one subscriber's sequence of events, and a [Subscription]
//     the feed with what the stream's first response says about it.
//   - The [Streamer] writes a subscription to one client: SUB as 106 and 105
//     (PUB) interim responses, GET as text/event-stream, over HTTP/1.1,
//     HTTP/2 and HTTP/3, with batching, keepalives, limits, a stall
//     watchdog and graceful shutdown.
//   - [Negotiate] tells whether a request asks for a subscription and in
//     which format; [WriteError] answers one that cannot be served with an
//     RFC 9457 problem detail.
//
// A new way of writing a subscription (another protocol's framing) is a
// streamWriter, chosen in [Streamer.Serve].
package stream
