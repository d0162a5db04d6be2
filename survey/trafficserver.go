package survey

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Apache Traffic Server as a reverse proxy (remap required), with Debian's
// records.config and what a reverse proxy in front of one origin changes:
// its ports, the remap rules, its certificate; with Debian's cache, and
// with none. It runs from a layout of its own
// (runroot.yaml) so that nothing of the system's instance is touched.
const (
	trafficServerRecords = `CONFIG proxy.config.http.server_ports STRING %[1]s:ip-in=127.0.0.1 %[2]s:ssl:ip-in=127.0.0.1
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.reverse_proxy.enabled INT 1
CONFIG proxy.config.url_remap.remap_required INT 1
CONFIG proxy.config.log.logging_enabled INT 0
CONFIG proxy.config.http.transaction_no_activity_timeout_in INT 3600
CONFIG proxy.config.http.transaction_no_activity_timeout_out INT 3600
CONFIG proxy.config.diags.output.error STRING E
`
	trafficServerRemap = `map http://%[1]s/ http://%[3]s/
map https://%[2]s/ http://%[3]s/
`
	trafficServerRunroot = `prefix: /usr
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
includedir: /usr/include
sysconfdir: %[1]s/etc
datadir: %[1]s/data
localstatedir: %[1]s
runtimedir: %[1]s/run
logdir: %[1]s/log
cachedir: %[1]s/cache
`
	// trafficServerSystemConfig is Debian's configuration, copied.
	trafficServerSystemConfig = "/etc/trafficserver"
)

// trafficServerStart runs Traffic Server with the records of extra added
// to those of trafficServerRecords.
func trafficServerStart(extra string) startFunc {
	return func(ctx context.Context, o *Origin, dir string) (*Front, error) {
		return startFront(ctx, dir, listeners{tls: true}, func(addrs []string) (proxyCommand, error) {
			return trafficServerConfigure(o, dir, addrs, extra)
		})
	}
}

// trafficServerConfigure lays out Traffic Server's directory dir, with
// Debian's configuration changed to listen on addrs and to proxy to o, and
// records.config with extra appended.
func trafficServerConfigure(o *Origin, dir string, addrs []string, extra string) (proxyCommand, error) {
	etc := filepath.Join(dir, "etc")
	os.RemoveAll(etc)
	if out, err := exec.Command("cp", "-r", trafficServerSystemConfig, etc).CombinedOutput(); err != nil {
		return proxyCommand{}, fmt.Errorf("copying %s: %v: %s", trafficServerSystemConfig, err, out)
	}
	for _, d := range []string{"data", "run", "log", "cache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return proxyCommand{}, err
		}
	}
	records := fmt.Sprintf(trafficServerRecords, port(addrs[0]), port(addrs[1])) + extra
	files := map[string]string{
		"runroot.yaml":             fmt.Sprintf(trafficServerRunroot, dir),
		"etc/remap.config":         fmt.Sprintf(trafficServerRemap, addrs[0], addrs[1], o.Upstream),
		"etc/ssl_multicert.config": fmt.Sprintf("dest_ip=* ssl_cert_name=%s ssl_key_name=%s\n", o.CertFile, o.KeyFile),
		"etc/storage.config":       filepath.Join(dir, "cache") + " 64M\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return proxyCommand{}, err
		}
	}
	if err := override(filepath.Join(etc, "records.config"), records); err != nil {
		return proxyCommand{}, err
	}
	return proxyCommand{
		argv:   []string{"traffic_server", "--run-root=" + filepath.Join(dir, "runroot.yaml")},
		config: "records.config, as Debian ships it but for:\n" + records + "\nremap.config:\n" + files["etc/remap.config"],
	}, nil
}

// override rewrites a records.config without the records that records
// sets, then with them.
func override(file, records string) error {
	set := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(records), "\n") {
		set[strings.Fields(line)[1]] = true
	}
	in, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(in)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 && f[0] == "CONFIG" && set[f[1]] {
			continue
		}
		out.WriteString(sc.Text() + "\n")
	}
	out.WriteString(records)
	return os.WriteFile(file, []byte(out.String()), 0o644)
}
