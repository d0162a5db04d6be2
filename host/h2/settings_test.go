package h2

import (
	"testing"

	"golang.org/x/net/http2"
)

// An extension setting given to the Server is in its SETTINGS frame, after
// its own limits; without one, the frame carries only those.
func TestSettingsFrameCarriesTheServersExtensionSettings(t *testing.T) {
	const extension = http2.SettingID(0xf5b0)
	for _, tc := range []struct {
		name     string
		settings []http2.Setting
		want     uint32 // 0: absent
	}{
		{"given", []http2.Setting{{ID: extension, Val: 1}}, 1},
		{"none given", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, nil, false, func(s *Server) { s.Settings = tc.settings })
			rc := dialRaw(t, ts)
			got, ok := rc.settings[extension]
			if tc.want == 0 && ok || tc.want != 0 && got != tc.want {
				t.Errorf("SETTINGS %v: extension %#x = %d (present %v), want %d", rc.settings, uint16(extension), got, ok, tc.want)
			}
			if rc.settings[http2.SettingMaxConcurrentStreams] != DefaultMaxConcurrentStreams {
				t.Errorf("SETTINGS %v lost SETTINGS_MAX_CONCURRENT_STREAMS", rc.settings)
			}
		})
	}
}
