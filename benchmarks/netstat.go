package benchmarks

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// What the harness reads of the machine's network: the connections to a
// server's ports, and what the loopback interface has carried.

// establishedTo counts the established TCP connections whose local port is
// one of ports: the server side of the connections to a listener on this
// machine.
func establishedTo(ports ...int) int {
	want := map[string]bool{}
	for _, p := range ports {
		if p > 0 {
			want[fmt.Sprintf("%04X", p)] = true
		}
	}
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "01" { // ESTABLISHED
				continue
			}
			if _, port, ok := strings.Cut(fields[1], ":"); ok && want[port] {
				n++
			}
		}
		f.Close()
	}
	return n
}

// loopbackBytes is what the loopback interface has carried, both
// directions (every packet on it is sent once and received once; this
// counts it once), IP headers included.
func loopbackBytes() int64 {
	b, err := os.ReadFile("/sys/class/net/lo/statistics/tx_bytes")
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// portOf is the port of a "host:port" address (0 if none).
func portOf(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0
	}
	p, _ := strconv.Atoi(addr[i+1:])
	return p
}
