package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the line --version prints for program: the module's version,
// the commit it was built from (and whether the work tree had changes) and
// the Go toolchain, from the build information Go embeds.
func Version(program string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Sprintf("%s (no build information) %s %s/%s", program, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	return versionLine(program, info, runtime.GOOS+"/"+runtime.GOARCH)
}

// versionLine formats info: "subpub v0.0.0-20260101120000-0123456789ab
// (commit 0123456789ab, 2026-01-01T12:00:00Z, modified) go1.26.0
// linux/amd64".
func versionLine(program string, info *debug.BuildInfo, platform string) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var commit []string
	if rev := settings["vcs.revision"]; rev != "" {
		commit = append(commit, "commit "+rev[:min(len(rev), 12)])
		if t := settings["vcs.time"]; t != "" {
			commit = append(commit, t)
		}
		if settings["vcs.modified"] == "true" {
			commit = append(commit, "modified")
		}
	} else {
		// go build stamps the commit only with -buildvcs (make build
		// passes it) and in a git clone; go run and go test never do.
		commit = append(commit, "commit unknown")
	}
	goVersion := info.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	return fmt.Sprintf("%s %s (%s) %s %s", program, version, strings.Join(commit, ", "), goVersion, platform)
}
