package survey

import (
	"context"
	"net"
	"os"

	"github.com/subpub/subpub/internal/launch"
)

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

// startConfigured writes a proxy's configuration conf to file, then runs
// the proxy, whose arguments name the file.
func startConfigured(ctx context.Context, opts launch.ProgramOptions, file, conf, name string, args ...string) (*launch.Program, error) {
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return launch.StartProgram(ctx, opts, name, args...)
}
