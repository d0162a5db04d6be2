package survey

import (
	"context"
	"net"
	"os"
	"path/filepath"

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

// proxyCommand is how a configured proxy is run, and its configuration as
// the report shows it.
type proxyCommand struct {
	// argv is the program run and its arguments.
	argv []string
	// env, if set, is the program's whole environment.
	env []string
	// config is what the report shows as the proxy's configuration.
	config string
}

// listeners are what a proxy listens for: HTTP/1.1 in cleartext, and
// HTTP/2 with prior knowledge there too if h2c; TLS on a second address if
// tls.
type listeners struct {
	tls, h2c bool
}

// startFront runs a proxy in front of the origin: it finds the addresses
// the proxy listens on (cleartext, then TLS), has configure write the
// proxy's configuration for them into dir and say how to run it, and runs
// it.
func startFront(ctx context.Context, dir string, l listeners, configure func(addrs []string) (proxyCommand, error)) (*Front, error) {
	n := 1
	if l.tls {
		n = 2
	}
	addrs, err := freeAddrs(n)
	if err != nil {
		return nil, err
	}
	cmd, err := configure(addrs)
	if err != nil {
		return nil, err
	}
	p, err := launch.StartProgram(ctx, launch.ProgramOptions{Dir: dir, Env: cmd.env, Listen: addrs}, cmd.argv[0], cmd.argv[1:]...)
	if err != nil {
		return nil, err
	}
	f := &Front{Plain: addrs[0], H2C: l.h2c, Config: cmd.config, program: p}
	if l.tls {
		f.TLS = addrs[1]
	}
	return f, nil
}

// fileConfigured is a proxy configured by one file, which its command line
// names: what most proxies are.
type fileConfigured struct {
	// file is the configuration file's name in the proxy's directory.
	file   string
	listen listeners
	// unprivileged says the proxy reads its directory as an unprivileged
	// user, whom the directory must let in.
	unprivileged bool
	// ownHome runs the proxy with its home and XDG directories in its
	// directory, where it keeps its state.
	ownHome bool
	// config is the file's content for origin o, the proxy's directory
	// being dir and its addresses addrs.
	config func(o *Origin, dir string, addrs []string) string
	// command is the program run and its arguments, file being the
	// configuration file's path.
	command func(dir, file string, addrs []string) []string
}

// start writes the configuration file into dir and runs the proxy.
func (c fileConfigured) start(ctx context.Context, o *Origin, dir string) (*Front, error) {
	return startFront(ctx, dir, c.listen, func(addrs []string) (proxyCommand, error) {
		if c.unprivileged {
			if err := os.Chmod(dir, 0o755); err != nil {
				return proxyCommand{}, err
			}
		}
		cmd := proxyCommand{config: c.config(o, dir, addrs)}
		file := filepath.Join(dir, c.file)
		if err := os.WriteFile(file, []byte(cmd.config), 0o644); err != nil {
			return proxyCommand{}, err
		}
		cmd.argv = c.command(dir, file, addrs)
		if c.ownHome {
			cmd.env = []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
		}
		return cmd, nil
	})
}
