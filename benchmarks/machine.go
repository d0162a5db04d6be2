package benchmarks

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Machine describes where a run ran, for the report.
type Machine struct {
	CPU       string  `json:"cpu"`
	Cores     int     `json:"cores"`
	MemoryGiB float64 `json:"memory_gib"`
	Kernel    string  `json:"kernel"`
	OS        string  `json:"os"`
	Go        string  `json:"go"`
	Date      string  `json:"date"`
	Peers     string  `json:"peers,omitempty"`
}

func describeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339)}
	m.CPU = firstField("/proc/cpuinfo", "model name")
	if kb := firstField("/proc/meminfo", "MemTotal"); kb != "" {
		var n float64
		for _, c := range strings.TrimSuffix(kb, " kB") {
			if c >= '0' && c <= '9' {
				n = n*10 + float64(c-'0')
			}
		}
		m.MemoryGiB = n / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if name := firstField("/etc/os-release", "PRETTY_NAME"); name != "" {
		m.OS = strings.Trim(name, `"`)
	}
	return m
}

// peerVersions names the installed peers' versions.
func peerVersions() string {
	var out []string
	if b, err := exec.Command(nginxBinary, "-v").CombinedOutput(); err == nil {
		out = append(out, strings.TrimPrefix(strings.TrimSpace(string(b)), "nginx version: "))
	}
	if b, err := exec.Command(varnishd, "-V").CombinedOutput(); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		out = append(out, strings.TrimSpace(line))
	}
	return strings.Join(out, "; ")
}

// firstField is the value of the first "name: value" (or name=value) line
// of a file.
func firstField(file, name string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, sep := range []string{":", "="} {
			if k, v, ok := strings.Cut(line, sep); ok && strings.TrimSpace(k) == name {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}
