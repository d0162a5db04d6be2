package testkit

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/subpub/subpub/wire"
)

// Closes is a stream.Metrics that counts the subscriptions a Streamer ends,
// by protocol and reason, for tests that wait for a subscription to be ended
// for a reason or check how many were.
type Closes struct {
	mu sync.Mutex
	n  map[[2]string]int // by protocol and reason

	fannedOut, everFannedOut atomic.Int64
}

func (c *Closes) SubscriptionOpened(string, wire.Format)  {}
func (c *Closes) Delivered(string, wire.Format, int, int) {}
func (c *Closes) Rejected(string, int)                    {}

func (c *Closes) FannedOut(_ string, _ wire.Format, delta int) {
	c.fannedOut.Add(int64(delta))
	if delta > 0 {
		c.everFannedOut.Add(1)
	}
}

// FanOutNow is how many subscriptions their connections' fan-outs write
// now, FanOutEver how many they ever started writing.
func (c *Closes) FanOutNow() int  { return int(c.fannedOut.Load()) }
func (c *Closes) FanOutEver() int { return int(c.everFannedOut.Load()) }

func (c *Closes) SubscriptionClosed(proto string, _ wire.Format, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[[2]string]int{}
	}
	c.n[[2]string{proto, reason}]++
}

// Count is how many subscriptions over proto ("h1", "h2", "h3") ended for
// reason, or over any protocol if proto is "".
func (c *Closes) Count(proto, reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.n {
		if k[1] == reason && (proto == "" || k[0] == proto) {
			n += v
		}
	}
	return n
}

// String lists the counts, for failure messages.
func (c *Closes) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.n)
}
