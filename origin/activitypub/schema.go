package activitypub

import (
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// schema creates the tables. It is plain SQL (TEXT, BIGINT, BOOLEAN, primary
// keys, ON CONFLICT upserts) that PostgreSQL runs unchanged, so that a server
// database can take the embedded one's place when several origin processes
// share the work; the event log then also carries events between processes.
// Everything specific to SQLite is in this file: the connection string below.
// (Queries elsewhere use "?" placeholders, which a PostgreSQL driver wants
// as $1, $2...)
//
// Ids are absolute URLs, stored as they are served. Times are milliseconds
// since the Unix epoch. JSON documents are stored as text without their
// "@context", which is added when they are served.
const schema = `
	-- Local actors. An actor's Person document and its inbox, outbox,
	-- followers, following and liked collections are derived from its name;
	-- profile holds the properties the actor has set with Update. (A
	-- database made before the tokens table had each actor's one token in
	-- a token_hash column here: migrateTokens moves it.)
	CREATE TABLE IF NOT EXISTS actors (
		name       TEXT PRIMARY KEY,
		profile    TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);

	-- Bearer tokens, any number per actor. hash is the hex SHA-256 of the
	-- secret: tokens are random secrets, so a fast hash suffices and lets a
	-- token be looked up directly; the secret itself is never stored. id
	-- names the token to revoke it; name is a label of its owner's choosing
	-- ("--user" for the token that flag provisions). expires_at is 0 for a
	-- token that does not expire. Revoking deletes the row.
	CREATE TABLE IF NOT EXISTS tokens (
		id         TEXT PRIMARY KEY,
		actor      TEXT NOT NULL REFERENCES actors (name),
		name       TEXT NOT NULL,
		hash       TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL
	);
	CREATE UNIQUE INDEX IF NOT EXISTS tokens_hash ON tokens (hash);
	CREATE INDEX IF NOT EXISTS tokens_actor ON tokens (actor);

	-- Objects, activities and collections created through outboxes. kind is
	-- "object", "activity" or "collection"; type is the Activity Streams type
	-- it was created with. A deleted object keeps its row, with a Tombstone
	-- as its data, so that it is answered with 410 rather than 404.
	CREATE TABLE IF NOT EXISTS objects (
		id         TEXT PRIMARY KEY,
		kind       TEXT NOT NULL,
		type       TEXT NOT NULL,
		owner      TEXT NOT NULL REFERENCES actors (name),
		public     BOOLEAN NOT NULL,
		deleted    BOOLEAN NOT NULL,
		undone     BOOLEAN NOT NULL,
		data       TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		updated_at BIGINT NOT NULL
	);

	-- The local actors, besides its owner, who may read a non-public
	-- object: its addressees when it was created.
	CREATE TABLE IF NOT EXISTS audience (
		object_id TEXT NOT NULL REFERENCES objects (id),
		actor     TEXT NOT NULL REFERENCES actors (name),
		PRIMARY KEY (object_id, actor)
	);

	-- The members of every collection, derived ones included. seq is the
	-- sequence number of the Add event that put the item there: the item's
	-- paging cursor. public tells whether the item is in the collection's
	-- public view or only in its owner's.
	CREATE TABLE IF NOT EXISTS collection_items (
		collection TEXT NOT NULL,
		item       TEXT NOT NULL,
		public     BOOLEAN NOT NULL,
		seq        BIGINT NOT NULL,
		PRIMARY KEY (collection, item)
	);
	CREATE UNIQUE INDEX IF NOT EXISTS collection_items_seq ON collection_items (collection, seq);

	-- The event log. seq, one sequence for all streams, orders it; an
	-- event's id is its seq in decimal. ref is the URL its data is served
	-- at when it is too large to carry inline, or empty.
	CREATE TABLE IF NOT EXISTS events (
		seq        BIGINT PRIMARY KEY,
		type       TEXT NOT NULL,
		data       TEXT NOT NULL,
		ref        TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX IF NOT EXISTS events_created_at ON events (created_at);

	-- The streams an event belongs to: one event may be in several views of
	-- one collection. prev is the seq of the stream's event before it (0
	-- for none), which the event names as its prev: a subscriber that did
	-- not receive that one knows it missed an event.
	CREATE TABLE IF NOT EXISTS event_streams (
		stream TEXT NOT NULL,
		seq    BIGINT NOT NULL REFERENCES events (seq),
		prev   BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (stream, seq)
	);
	CREATE INDEX IF NOT EXISTS event_streams_seq ON event_streams (seq);

	-- The newest event of each stream, which the stream's next event names
	-- as its prev: kept apart from event_streams, which retention prunes,
	-- so that an event published after its stream was pruned still names
	-- the one before it.
	CREATE TABLE IF NOT EXISTS stream_heads (
		stream TEXT PRIMARY KEY,
		seq    BIGINT NOT NULL
	);

	-- Numbers that must survive restarts: last_seq, the last sequence number
	-- assigned (kept here rather than derived from the log, which retention
	-- may empty), pruned_seq, the highest one pruned, and
	-- token_generation, increased by every transaction that takes a token
	-- away, so that a server can tell cheaply that it must check the
	-- tokens of its open streams again (another process may have revoked
	-- one).
	CREATE TABLE IF NOT EXISTS counters (
		name  TEXT PRIMARY KEY,
		value BIGINT NOT NULL
	);
	INSERT INTO counters (name, value) VALUES ('last_seq', 0) ON CONFLICT (name) DO NOTHING;
	INSERT INTO counters (name, value) VALUES ('pruned_seq', 0) ON CONFLICT (name) DO NOTHING;
	INSERT INTO counters (name, value) VALUES ('token_generation', 0) ON CONFLICT (name) DO NOTHING;
`

// Names of the rows of the counters table.
const (
	counterLastSeq         = "last_seq"
	counterPrunedSeq       = "pruned_seq"
	counterTokenGeneration = "token_generation"
)

// Names of the database driver and file.
const (
	sqliteDriver = "sqlite" // modernc.org/sqlite: pure Go, no cgo
	// DatabaseFile is the database's file in the directory OpenStore is
	// given.
	DatabaseFile = "subpub.db"
)

// BusyTimeout is how long a statement waits for a lock another process
// holds (subpub token writing, an administrator's sqlite3 shell) before it
// fails and the request gets 503 with Retry-After: long enough for another
// process's short write, short enough to answer promptly.
const BusyTimeout = 500 * time.Millisecond

// sqliteDSN is the connection string of the database in dir: write-ahead
// logging, so that readers (GETs, replays) never wait for the writer nor it
// for them; NORMAL synchronization, which in WAL mode loses no committed
// transaction on a process crash; a busy timeout (BusyTimeout) rather than
// immediate failure should another process hold the lock; and
// transactions that take the write lock when they begin, since every
// transaction here writes.
func sqliteDSN(dir string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + uriPathEscaper.Replace(filepath.ToSlash(filepath.Join(dir, DatabaseFile))) + "?" + q.Encode()
}

// Storage conditions that are not the request's fault nor a bug, which the
// server answers with a status of their own (see storageError).
const (
	storageBusy        = "busy"        // another process holds the lock: 503, retry
	storageFull        = "full"        // the disk is full: 507
	storageUnreachable = "unreachable" // the database server cannot be reached: 503, retry
)

// storageCondition classifies a database error: by SQLite's primary result
// code, SQLITE_BUSY and SQLITE_LOCKED are storageBusy, SQLITE_FULL is
// storageFull; a lost or refused connection to PostgreSQL is
// storageUnreachable (see postgresUnreachable); anything else is "".
func storageCondition(err error) string {
	if postgresUnreachable(err) {
		return storageUnreachable
	}
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return ""
	}
	switch coded.Code() & 0xff {
	case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
		return storageBusy
	case 13: // SQLITE_FULL
		return storageFull
	}
	return ""
}

// uriPathEscaper escapes what would end or change the path of an SQLite URI
// filename: a directory named "a#b" or "a?b" is that directory, not "a".
var uriPathEscaper = strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")
