// Package origin serves the event streams of a durable log: a [Hub] replays
// a subscriber from the [Log] up to the live stream, then follows the live
// stream's ring, and goes back to the log whenever the subscriber falls
// behind the ring, so that a subscriber at the origin is never cut off for
// lag. The ActivityPub application in origin/activitypub is one such log;
// [MemoryLog] is another, held in memory.
package origin
