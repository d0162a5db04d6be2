package activitypub

import (
	"net/http"
	"time"

	"github.com/subpub/subpub/wire"
)

// DefaultBusyRetryAfter is the Retry-After of the 503 a request gets while
// another process holds the database's lock.
const DefaultBusyRetryAfter = 2 * time.Second

// DefaultUnreachableRetryAfter is the Retry-After of the 503 a request gets
// while the PostgreSQL server cannot be reached.
const DefaultUnreachableRetryAfter = 5 * time.Second

// storageError is the answer to a request that failed on a storage
// condition (see storageCondition): 503 with Retry-After while the
// database is locked or its server cannot be reached, 507 while the disk
// is full; nil for other errors. A
// write that failed so was rolled back whole: nothing of it is stored or
// published.
func storageError(err error) *wire.StatusError {
	switch storageCondition(err) {
	case storageBusy:
		return &wire.StatusError{
			Status:     http.StatusServiceUnavailable,
			Detail:     "the database is locked by another process; retry later",
			RetryAfter: DefaultBusyRetryAfter,
		}
	case storageUnreachable:
		return &wire.StatusError{
			Status:     http.StatusServiceUnavailable,
			Detail:     "the database server cannot be reached; retry later",
			RetryAfter: DefaultUnreachableRetryAfter,
		}
	case storageFull:
		return &wire.StatusError{
			Status: http.StatusInsufficientStorage,
			Detail: "the server's storage is full; nothing was written",
		}
	}
	return nil
}
