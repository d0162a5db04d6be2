// Package netem emulates a network path with delay and loss between two
// network namespaces, for the benchmarks' HTTP/2 versus HTTP/3 comparison.
package netem

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Link joins two network namespaces by a link made in user space: a TUN
// device in each, and a relay in this process that reads every packet from
// one device and writes it to the other after a fixed delay, dropping each
// with a given probability. Real TCP and real QUIC then see real loss and
// delay, which this kernel cannot make otherwise (it has no netem).
type Link struct {
	// The namespaces of the link's two ends, and the address of each end:
	// servers listen on ServerIP in ServerNS, clients in ClientNS reach
	// them there.
	ServerNS, ClientNS string
	ServerIP, ClientIP string

	delay time.Duration

	drop    atomic.Uint64 // math.Float64bits of the drop probability
	devices []*os.File
	relays  sync.WaitGroup
	// Counters since the last reset, by direction.
	toClient, toServer         counters
	serverDevice, clientDevice string
}

type counters struct {
	packets, bytes, dropped atomic.Int64
}

// Counts are what one direction of the link carried since the drop
// probability was last set: the packets that arrived at it, their bytes,
// and those it dropped.
type Counts struct {
	Packets, Bytes, Dropped int64
}

func (c *counters) load() Counts {
	return Counts{Packets: c.packets.Load(), Bytes: c.bytes.Load(), Dropped: c.dropped.Load()}
}

// ToClient is what the link carried towards the client namespace.
func (l *Link) ToClient() Counts { return l.toClient.load() }

// ToServer is what the link carried towards the server namespace.
func (l *Link) ToServer() Counts { return l.toServer.load() }

// Names and addresses of the link (from 198.18.0.0/15, the benchmarking
// range).
const (
	lossServerNS     = "subpub-bench-srv"
	lossClientNS     = "subpub-bench-cli"
	lossServerDevice = "sbtun-srv"
	lossClientDevice = "sbtun-cli"
	lossServerIP     = "198.18.0.1"
	lossClientIP     = "198.18.0.2"
	// lossQueue bounds the packets in flight on the link per direction.
	lossQueue = 1 << 16
)

// supported says why the link cannot be made here, if it cannot.
func supported() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces and TUN devices)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return errors.New("no /dev/net/tun (TUN devices)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("no ip command (iproute2)")
	}
	return nil
}

// New makes the namespaces, the devices and the relay of a link with the
// given one-way delay, dropping nothing. Close removes them all; on
// failure, what was made is removed before returning.
func New(delay time.Duration) (l *Link, err error) {
	if err := supported(); err != nil {
		return nil, err
	}
	l = &Link{
		ServerNS: lossServerNS, ClientNS: lossClientNS,
		ServerIP: lossServerIP, ClientIP: lossClientIP,
		serverDevice: lossServerDevice, clientDevice: lossClientDevice,
		delay: delay,
	}
	l.removeNamespaces() // left over from a run that was killed
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	for _, ns := range []string{l.ServerNS, l.ClientNS} {
		if err := ipCommand("netns", "add", ns); err != nil {
			return nil, err
		}
		if err := ipCommand("-n", ns, "link", "set", "lo", "up"); err != nil {
			return nil, err
		}
	}
	for _, end := range []struct{ device, ns, local, peer string }{
		{l.serverDevice, l.ServerNS, l.ServerIP, l.ClientIP},
		{l.clientDevice, l.ClientNS, l.ClientIP, l.ServerIP},
	} {
		dev, err := openTUN(end.device)
		if err != nil {
			return nil, err
		}
		l.devices = append(l.devices, dev)
		if err := ipCommand("link", "set", end.device, "netns", end.ns); err != nil {
			return nil, err
		}
		if err := ipCommand("-n", end.ns, "addr", "add", end.local, "peer", end.peer, "dev", end.device); err != nil {
			return nil, err
		}
		if err := ipCommand("-n", end.ns, "link", "set", end.device, "mtu", "1500", "up"); err != nil {
			return nil, err
		}
	}
	l.relays.Go(func() { l.relay(l.devices[0], l.devices[1], &l.toClient) })
	l.relays.Go(func() { l.relay(l.devices[1], l.devices[0], &l.toServer) })
	return l, nil
}

// SetDrop sets the drop probability of both directions and resets the
// counters.
func (l *Link) SetDrop(p float64) {
	l.drop.Store(math.Float64bits(p))
	for _, c := range []*counters{&l.toClient, &l.toServer} {
		c.packets.Store(0)
		c.bytes.Store(0)
		c.dropped.Store(0)
	}
}

// relay moves packets from one device to the other: a reader that drops
// some and stamps the others with when they are due, and a writer that
// sends each when it is due. The delay is the same for every packet, so the
// queue stays in order.
func (l *Link) relay(from, to *os.File, c *counters) {
	type packet struct {
		due time.Time
		b   []byte
	}
	queue := make(chan packet, lossQueue)
	var writer sync.WaitGroup
	writer.Go(func() {
		for p := range queue {
			if d := time.Until(p.due); d > 0 {
				time.Sleep(d)
			}
			to.Write(p.b)
		}
	})
	defer writer.Wait()
	defer close(queue)
	for {
		buf := make([]byte, 65536)
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		c.packets.Add(1)
		c.bytes.Add(int64(n))
		if rand.Float64() < math.Float64frombits(l.drop.Load()) {
			c.dropped.Add(1)
			continue
		}
		select {
		case queue <- packet{due: time.Now().Add(l.delay), b: buf[:n]}:
		default:
			c.dropped.Add(1) // the link's queue is full: a tail drop
		}
	}
}

// Close removes the namespaces (and with them the devices, which ends the
// relay's reads) and waits for the relay.
func (l *Link) Close() error {
	l.removeNamespaces()
	for _, dev := range l.devices {
		dev.Close()
	}
	l.relays.Wait()
	return nil
}

func (l *Link) removeNamespaces() {
	for _, ns := range []string{l.ServerNS, l.ClientNS} {
		exec.Command("ip", "netns", "del", ns).Run()
	}
	for _, dev := range []string{l.serverDevice, l.clientDevice} {
		exec.Command("ip", "link", "del", dev).Run()
	}
}

// openTUN creates a TUN device (IP packets, no packet information header)
// and returns its file, non-blocking so that closing it ends a read.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("creating TUN device %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func ipCommand(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
