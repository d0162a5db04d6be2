package activitypub

import (
	"strings"
	"testing"
)

// TestDataLockExcludesASecondHolder takes the lock twice on one directory
// (flock conflicts between two open file descriptions, even in one
// process), and, as the negative control, once each on two directories.
func TestDataLockExcludesASecondHolder(t *testing.T) {
	dir := t.TempDir()
	first, err := LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockDataDir(dir); err == nil || !strings.Contains(err.Error(), "another origin is serving data directory "+dir) {
		t.Fatalf("second lock on one directory: %v, want refused", err)
	}
	other, err := LockDataDir(t.TempDir())
	if err != nil {
		t.Fatalf("a lock on another directory: %v", err)
	}
	other.Release()
	first.Release()
	again, err := LockDataDir(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Release()
}
