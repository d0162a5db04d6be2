// Package procstat reads what the benchmarks measure of a server process
// from /proc: CPU time, peak and current resident memory. A server is a
// process and its descendants (nginx and Varnish run workers), summed.
package procstat

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// defaultClockTicks is USER_HZ where the kernel does not say (100 on every
// Linux that matters; github.com/prometheus/procfs assumes it too).
const defaultClockTicks = 100

// clockTicks is the unit of utime and stime in /proc/PID/stat: USER_HZ, as
// the kernel gives it to every process in its auxiliary vector (AT_CLKTCK),
// which is what sysconf(_SC_CLK_TCK) reads.
var clockTicks = sync.OnceValue(func() int64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return defaultClockTicks
	}
	return auxvClockTicks(b)
})

// atClockTick is AT_CLKTCK, the auxiliary vector's key for USER_HZ.
const atClockTick = 17

// auxvClockTicks finds AT_CLKTCK in an auxiliary vector of 64-bit
// little-endian key and value pairs, or gives the default.
func auxvClockTicks(auxv []byte) int64 {
	for i := 0; i+16 <= len(auxv); i += 16 {
		key := binary.LittleEndian.Uint64(auxv[i:])
		value := binary.LittleEndian.Uint64(auxv[i+8:])
		if key == 0 {
			break // AT_NULL ends it
		}
		if key == atClockTick && value > 0 {
			return int64(value)
		}
	}
	return defaultClockTicks
}

// Usage is a reading of a process tree.
type Usage struct {
	CPU    time.Duration // user + system, since the process started
	PeakKB int64         // VmHWM, summed over the tree
	RSSKB  int64         // VmRSS, summed over the tree
}

// Read reads pid and its descendants. A process that has gone is skipped.
func Read(pid int) Usage {
	var u Usage
	for _, p := range append([]int{pid}, Descendants(pid)...) {
		u.CPU += readCPU(p)
		hwm, rss := readMemory(p)
		u.PeakKB += hwm
		u.RSSKB += rss
	}
	return u
}

// readCPU is the user and system time of pid.
func readCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it do not.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / time.Duration(clockTicks())
}

// readMemory is the peak and current resident set of pid, in KiB.
func readMemory(pid int) (hwm, rss int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "VmHWM":
			hwm = kb
		case "VmRSS":
			rss = kb
		}
	}
	return hwm, rss
}

// Descendants lists the processes below pid.
func Descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p))
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, c := range strings.Fields(string(b)) {
				if child, err := strconv.Atoi(c); err == nil {
					out = append(out, child)
					queue = append(queue, child)
				}
			}
		}
	}
	return out
}

// SelfCPU is the CPU time of the calling process (the load generator), all
// threads.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// LoadAverage is the machine's load averages over 1, 5 and 15 minutes, as
// /proc/loadavg gives them ("0.52 0.61 0.70"), or "unknown": every report
// says how busy the machine was while it was measured.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
