package h2

import "fmt"

// FieldSectionTooLargeError is what writing an interim response returns,
// instead of sending it, when its field section is larger than the
// client's SETTINGS_MAX_HEADER_LIST_SIZE: the client has said it would not
// accept it (RFC 9113 §6.5.2), and a 105 (PUB) must not exceed it. The
// caller decides what the subscription does instead (stream ends it with
// an error that says so).
type FieldSectionTooLargeError struct {
	Status int
	Size   int // as SETTINGS_MAX_HEADER_LIST_SIZE counts it
	Limit  int64
}

func (e *FieldSectionTooLargeError) Error() string {
	return fmt.Sprintf("a %d response's field section of %d bytes exceeds the client's SETTINGS_MAX_HEADER_LIST_SIZE of %d", e.Status, e.Size, e.Limit)
}

// statusFieldSize is what a response's :status adds to its field section
// (RFC 9113 §6.5.2: name, value and 32).
const statusFieldSize = len(":status") + len("100") + 32

// fitsLocked checks an interim response whose fields count fieldsSize (as
// appendFields counts them) against the client's
// SETTINGS_MAX_HEADER_LIST_SIZE, which the client may lower at any time;
// the caller holds c.mu. Without one (the default) nothing is counted.
func (c *Conn) fitsLocked(status, fieldsSize int) error {
	if n := fieldsSize + statusFieldSize; c.peerMaxHeaderList >= 0 && int64(n) > c.peerMaxHeaderList {
		return &FieldSectionTooLargeError{Status: status, Size: n, Limit: c.peerMaxHeaderList}
	}
	return nil
}

// fitsBatchLocked checks every interim response of a batch, from the
// sizes its Fields counted once; the caller holds c.mu.
func (c *Conn) fitsBatchLocked(items []batchItem) error {
	if c.peerMaxHeaderList < 0 {
		return nil
	}
	for _, it := range items {
		if it.fields == nil {
			continue
		}
		if err := c.fitsLocked(it.status, it.fields.size); err != nil {
			return err
		}
	}
	return nil
}
