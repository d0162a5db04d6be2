package stream

import (
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// hangups tells when the client of a taken-over HTTP/1.1 connection closes
// it, or sends anything (which a subscriber never does: see connStream), at
// once, for every such connection from one goroutine: an epoll set of their
// descriptors, waiting for EPOLLRDHUP (the client's FIN), input or an
// error.
// Without it a subscription learns that its client left from its next write
// (a keepalive, seconds later), and meanwhile holds its slot: a client that
// opened and closed subscriptions quickly could fill its address's slots
// with subscriptions nobody reads. A reader goroutine per connection would
// notice too, at a goroutine per idle subscriber; Go's own poller watches
// these descriptors for the writes, and epoll lets one more set watch them.
//
// The goroutine starts with the first connection watched and ends when the
// Streamer shuts down.
type hangups struct {
	mu      sync.Mutex
	epfd    int               // 0 until started; -1 once closed or if epoll is not there
	watched map[int32]watched // by descriptor
	gen     int32
}

// watched is a watched connection. Its generation, in the epoll event too,
// tells its event from one of an earlier connection that had the same
// descriptor, read from the set just before that one was removed.
type watched struct {
	gen  int32
	gone chan struct{}
}

// hangupEvents are what a watched descriptor reports once.
const hangupEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLONESHOT

// watch returns a channel closed when conn's client closes it, and stop,
// which must be called before conn is closed (a descriptor number is reused
// once closed). The channel is nil when conn cannot be watched.
func (h *hangups) watch(conn net.Conn) (gone <-chan struct{}, stop func()) {
	fd, ok := descriptor(conn)
	if !ok {
		return nil, func() {}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.epfd == 0 {
		h.start()
	}
	if h.epfd < 0 {
		return nil, func() {}
	}
	h.gen++
	w := watched{gen: h.gen, gone: make(chan struct{})}
	ev := unix.EpollEvent{Events: hangupEvents, Fd: fd, Pad: w.gen}
	if err := unix.EpollCtl(h.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		return nil, func() {}
	}
	h.watched[fd] = w
	return w.gone, func() { h.unwatch(fd, w.gen) }
}

func (h *hangups) unwatch(fd, gen int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watched[fd].gen != gen {
		return // reported already
	}
	delete(h.watched, fd)
	if h.epfd > 0 {
		unix.EpollCtl(h.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	}
}

// start creates the epoll set and its goroutine. The caller holds h.mu.
func (h *hangups) start() {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		h.epfd = -1
		return
	}
	h.epfd = epfd
	h.watched = make(map[int32]watched)
	go h.run(epfd)
}

func (h *hangups) run(epfd int) {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return // closed by stopWatching
		}
		h.mu.Lock()
		for _, ev := range events[:n] {
			if w, ok := h.watched[ev.Fd]; ok && w.gen == ev.Pad {
				delete(h.watched, ev.Fd)
				close(w.gone)
			}
		}
		h.mu.Unlock()
	}
}

// stopWatching ends the goroutine.
func (h *hangups) stopWatching() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.epfd > 0 {
		unix.Close(h.epfd)
	}
	h.epfd = -1
}

// descriptor is the file descriptor of conn's socket (a TLS connection's
// underneath), if it has one.
func descriptor(conn net.Conn) (int32, bool) {
	for {
		inner, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		conn = inner.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var fd int32 = -1
	raw.Control(func(d uintptr) { fd = int32(d) })
	return fd, fd >= 0
}
