package survey

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/subpub/subpub/internal/launch"
)

// Proxy is one intermediary surveyed: how to find it, and the
// configurations it is tried in.
type Proxy struct {
	Name string
	// Package is the Debian package that provides it.
	Package string
	// Binary is the program run.
	Binary string
	// versionArgs make Binary print its version.
	versionArgs []string
	Configs     []Config
}

// Config is one way of configuring a proxy in front of the origin.
type Config struct {
	// Name says what distinguishes it ("default", "upstream keepalive").
	Name string
	// H2CUpstream says the proxy forwards over h2c, which the scripted
	// upstream of the alternatives does not speak.
	H2CUpstream bool
	start       startFunc
}

// startFunc writes a proxy's configuration into dir and runs the proxy in
// front of o.
type startFunc func(ctx context.Context, o *Origin, dir string) (*Front, error)

// Front is a proxy running in front of the origin, and where its clients
// reach it.
type Front struct {
	// Plain is its cleartext address: HTTP/1.1, and HTTP/2 with prior
	// knowledge when H2C.
	Plain string
	H2C   bool
	// TLS, if the proxy offers it, is an address where ALPN chooses h2 or
	// http/1.1.
	TLS string
	// Config is the main configuration file as written, for the report.
	Config string

	program *launch.Program
}

// Stop ends the proxy.
func (f *Front) Stop() { f.program.Stop() }

// Installed says whether the proxy's binary is on this machine.
func (p *Proxy) Installed() bool {
	_, err := exec.LookPath(p.Binary)
	return err == nil
}

// Version is what the proxy says its version is (its first line).
func (p *Proxy) Version() string {
	out, err := exec.Command(p.Binary, p.versionArgs...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// configDir makes the directory where configuration i of p is written for
// a part of the survey ("alt", "streaming", "suite").
func (p *Proxy) configDir(dir, part string, i int) (string, error) {
	confDir := filepath.Join(dir, fmt.Sprintf("%s-%s-%d", strings.ToLower(strings.ReplaceAll(p.Name, " ", "")), part, i))
	return confDir, os.MkdirAll(confDir, 0o755)
}
