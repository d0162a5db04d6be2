package survey

import "net"

// freeAddrs finds n loopback TCP addresses free for a proxy that cannot be
// told to pick its ports itself. They are held open together, so that they
// differ, and released for the proxy to take.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}
