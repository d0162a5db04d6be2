package testkit

import (
	"testing"
	"time"
)

// Timeout is how long the tests wait for what should happen at once on an
// idle machine: long enough for a loaded CI machine, short enough to fail.
const Timeout = 30 * time.Second

// WaitFor waits until ch is closed or receives, and fails the test after
// Timeout.
func WaitFor(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(Timeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// WaitUntil polls a condition the test cannot be told about, such as a
// count in another process's metrics, and fails the test after Timeout.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Receive waits for a value from ch and fails the test after Timeout.
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(Timeout):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}
