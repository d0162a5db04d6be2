package activitypub

// Metrics receives what a Server observes. Implementations must be safe for
// concurrent use; the zero Server uses one that discards everything. The
// Prometheus exposition lives in the program, not here.
type Metrics interface {
	// ActivityPosted counts an activity an outbox accepted, by type.
	ActivityPosted(activityType string)
	// ActivityRejected counts a posted activity refused, by status.
	ActivityRejected(status int)
	// EventEmitted counts an event published on one stream, by the kind of
	// the stream's resource: actor, object, activity, collection, inbox,
	// outbox, followers, following, liked, likes or shares.
	EventEmitted(streamKind string)
	// EventsPruned counts events deleted for retention.
	EventsPruned(n int)
	// RequestCanceled counts a request its client cancelled (reset its
	// stream, closed its connection) before it was answered.
	RequestCanceled()
	// StorageError counts a request that failed on the database: busy
	// (another process holds its lock: 503) or full (507).
	StorageError(condition string)
}

type discardMetrics struct{}

func (discardMetrics) ActivityPosted(string) {}
func (discardMetrics) ActivityRejected(int)  {}
func (discardMetrics) EventEmitted(string)   {}
func (discardMetrics) EventsPruned(int)      {}
func (discardMetrics) RequestCanceled()      {}
func (discardMetrics) StorageError(string)   {}
