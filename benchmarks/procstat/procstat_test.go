package procstat

import (
	"encoding/binary"
	"testing"
)

func TestAuxvClockTicks(t *testing.T) {
	vector := func(pairs ...uint64) []byte {
		b := make([]byte, 0, 8*len(pairs))
		for _, v := range pairs {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		return b
	}
	for _, tt := range []struct {
		name string
		auxv []byte
		want int64
	}{
		{"AT_CLKTCK among others", vector(6, 4096, atClockTick, 250, 0, 0), 250},
		{"the usual 100", vector(atClockTick, 100, 0, 0), 100},
		{"after AT_NULL it is not read", vector(6, 4096, 0, 0, atClockTick, 250), defaultClockTicks},
		{"absent", vector(6, 4096, 0, 0), defaultClockTicks},
		{"truncated", vector(6, 4096)[:12], defaultClockTicks},
	} {
		if got := auxvClockTicks(tt.auxv); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := clockTicks(); got <= 0 {
		t.Errorf("this machine's USER_HZ: %d", got)
	}
}
