package edge

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzHTTPDate checks that parseHTTPDate accepts only what one of the
// three formats prints again (the names' case and the day name aside).
func FuzzHTTPDate(f *testing.F) {
	for _, s := range []string{future, "Thursday, 18-Aug-50 02:01:18 GMT", "Thu Aug  8 02:01:18 2050",
		"Thu, 18  Aug  2050 02:01:18 GMT", "Thu, 18 Aug 2050 2:01:18 GMT", "0", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseHTTPDate(s, now)
		if !ok {
			return
		}
		for _, layout := range httpDateLayouts {
			if strings.EqualFold(afterDayName(d.Format(layout)), afterDayName(s)) {
				return
			}
		}
		t.Errorf("%q parsed as %v, which no format prints as such", s, d)
	})
}

// FuzzCacheDirectives checks that neither the Cache-Control parser nor the
// targeted field's yields a max-age freshnessLifetime cannot read, and
// that Age is never negative.
func FuzzCacheDirectives(f *testing.F) {
	for _, s := range []string{"max-age=3600", "max-age=3600, &&&", `max-age="10"`, "private, no-cache", "s-maxage=99999999999", "7200, 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := http.Header{"Cache-Control": {s}, "CDN-Cache-Control": {s}, "Age": {s}}
		if d, ok := targetedControl(h, DefaultControlField); ok {
			for _, name := range []string{"max-age", "s-maxage"} {
				if v, has := d[name]; has {
					if _, valid := deltaSeconds(v); !valid {
						t.Errorf("%q: targeted %s=%q is not delta-seconds", s, name, v)
					}
				}
			}
		}
		cacheControl(h)
		if age := ageValue(h); age < 0 || age > maxDeltaSeconds*time.Second {
			t.Errorf("Age %q read as %v", s, age)
		}
	})
}
