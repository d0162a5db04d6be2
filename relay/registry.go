package relay

import (
	"time"

	"github.com/subpub/subpub/stream"
)

// Join finds the upstream subscription under key, making one with open if
// there is none, and counts the caller in. open runs under the registry's
// lock, so that what it checks (a bound on what one client may open, say)
// and the creation are one step; it may refuse with an error. The cursor
// is taken now, under the lock, so that a subscriber misses nothing the
// upstream delivers while it waits for the acknowledgement. A new
// subscription is to be started (Upstream.Start) by the caller.
func (r *Relay) Join(key string, open func() (*Upstream, error)) (u *Upstream, created bool, cursor *stream.Cursor, err error) {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	u = r.upstreams[key]
	if u == nil {
		if u, err = open(); err != nil {
			return nil, false, nil, err
		}
		u.key = key
		r.upstreams[key] = u
		created = true
	}
	u.refs++
	if u.linger != nil {
		u.linger.Stop()
		u.linger = nil
	}
	return u, created, u.topic.Head(), nil
}

// Leave counts a subscriber out. The last one leaving closes the upstream
// subscription after Linger, unless someone joins in the meantime.
func (r *Relay) Leave(u *Upstream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u.refs--
	if u.refs > 0 {
		return
	}
	linger := r.Linger
	if linger == 0 {
		linger = DefaultLinger
	}
	if linger < 0 || u.ctx.Err() != nil {
		r.closeLocked(u)
		return
	}
	u.linger = time.AfterFunc(linger, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if u.refs == 0 {
			r.closeLocked(u)
		}
	})
}

func (r *Relay) closeLocked(u *Upstream) {
	r.removeLocked(u)
	u.cancel()
}

// Forget removes an upstream subscription that ended, so that the next
// subscriber opens a new one.
func (r *Relay) Forget(u *Upstream) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked(u)
}

// removeLocked takes u out of the registry, if it is there.
func (r *Relay) removeLocked(u *Upstream) {
	if r.upstreams[u.key] != u {
		return
	}
	delete(r.upstreams, u.key)
	u.countClosed()
	if r.OnRemove != nil {
		r.OnRemove(u)
	}
}

// Rekey moves u to key, if it is still in the registry under its own and
// key is free: later subscribers computing key share it.
func (r *Relay) Rekey(u *Upstream, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if key != u.key && r.upstreams[u.key] == u && r.upstreams[key] == nil {
		delete(r.upstreams, u.key)
		r.upstreams[key] = u
		u.key = key
	}
}
