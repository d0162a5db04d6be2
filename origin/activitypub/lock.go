package activitypub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the file in a data directory that the origin serving it holds
// an exclusive lock on.
const LockFile = "origin.lock"

// DataLock is the exclusive lock an origin holds on its data directory. Two
// origins on one SQLite database would each publish only their own events
// to their own subscribers: a silent split. The lock is flock(2) on
// LockFile, so the kernel releases it when the process ends, however it
// ends (kill -9 included): a stale lock never blocks a restart. Commands
// that only touch the database briefly (subpub token) do not take it.
type DataLock struct{ f *os.File }

// LockDataDir takes the exclusive lock on dir, creating dir if needed, or
// fails at once, saying which process holds it, if another one does.
func LockDataDir(dir string) (*DataLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another origin is serving data directory %s%s (lock on %s); give each origin its own --data, or share one --store postgres://", dir, holder(f), path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	// The holder's pid, for the message another process gets; the lock,
	// not the file's content, is what excludes.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DataLock{f: f}, nil
}

// holder is " (pid N)" from the lock file, or "" if it names none.
func holder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return ""
	}
	return " (pid " + strconv.Itoa(pid) + ")"
}

// Release gives the lock up. Ending the process does too.
func (l *DataLock) Release() error { return l.f.Close() }
