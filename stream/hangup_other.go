//go:build !linux

package stream

import "net"

// hangups, where epoll is not there, notices nothing: a subscription
// learns that its client left from its next write.
type hangups struct{}

func (h *hangups) watch(net.Conn) (<-chan struct{}, func()) { return nil, func() {} }

func (h *hangups) stopWatching() {}
