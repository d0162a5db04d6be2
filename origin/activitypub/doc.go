// Package activitypub is an ActivityPub server (the client-to-server API)
// whose objects and collections are event streams: every change is an
// event on every stream it affects, served by the origin package as SUB
// (105 PUB interim responses) and as Server-Sent Events.
//
// # Resources and visibility
//
// Local actors are provisioned by the program ([Store.EnsureUser],
// [Store.AddToken]) and post to their outboxes with a bearer token; a
// token that is revoked ([Store.RevokeToken], from any process) or expires
// ends the subscriptions it opened (see [Server.RevocationCheck]). An object addressed to the Public
// collection is public; any other object may be read by its owner and by
// the local actors it was addressed to when it was created (its addressing
// cannot change afterwards). A collection has two views: its owner sees
// every item, anyone else (who may read the collection) its public items.
// An inbox is its owner's alone.
//
// There is no federation: only local objects can be referred to, remote
// recipients are ignored, and delivery is to local inboxes.
//
// # Events
//
// Events are Activity Streams activities in JSON, after the ActivityPub API
// Server-Sent Events draft:
//
//   - on a collection, Add (object: the item, embedded in full; target: the
//     collection) and Remove (object: the item's id);
//   - on an object or actor, Update (object: its new representation) and
//     Delete (object: its Tombstone), after which the stream ends;
//   - on an inbox, Add of each activity delivered to it.
//
// The event's type (wire.Event.Type) is the activity's; its time is when
// the transaction that logged it committed; its id is its sequence number in
// the log, one sequence for all streams, so ids increase within each
// stream. An item's paging cursor in a collection is the id of the Add
// event that put it there: GET collection?min_id=ID lists exactly the
// items added after event ID.
//
// # Paging
//
// A collection is an OrderedCollection whose pages list items newest
// first, selected Mastodon style by cursors:
//
//   - ?page=true: the newest items (the collection's "first").
//   - ?max_id=ID: the items older than ID; "next" links there from the
//     oldest item of a page.
//   - ?min_id=ID: the items newer than ID, the oldest of them first taken
//     (still listed newest first); "prev" links there from the newest item
//     of a page, and ?min_id=0 is the collection's "last". A client that
//     has seen event ID fetches exactly what it missed by following prev
//     from ?min_id=ID.
//
// Links appear only when there is something to follow them to.
//
// # Stream keys
//
// A stream is named by the path of its resource's URL (/users/alice,
// /users/alice/objects/X); a collection's owner view appends "#owner"
// (/users/alice/outbox#owner), which no request path can contain. An event
// is logged once and may be in several streams: an outbox's public item is
// in both views under one id.
//
// # Discovery
//
// Objects and collections carry eventStream, their own URL: SUB it, or GET
// it with Accept: text/event-stream. Actors carry
// endpoints.proxyEventStream, /proxy/events?id=URL&access_token=TOKEN, for
// EventSource clients, which cannot set Authorization. Access tokens are
// redacted from the request log.
package activitypub
