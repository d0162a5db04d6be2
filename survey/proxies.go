package survey

import (
	"fmt"
	"slices"
	"strings"
)

// Proxies are the intermediaries surveyed, in the report's order.
func Proxies() []Proxy {
	return []Proxy{
		{
			Name: "HAProxy", Package: "haproxy", Binary: "haproxy", versionArgs: []string{"-v"},
			Configs: []Config{
				{Name: "default (http-reuse safe)", start: haproxyStart(haproxyConfig, "safe")},
				{Name: "http-reuse always", start: haproxyStart(haproxyConfig, "always")},
			},
		},
		{
			Name: "nginx", Package: "nginx-light", Binary: "nginx", versionArgs: []string{"-v"},
			Configs: []Config{
				{Name: "default", start: nginxStart(nginxConfig, "")},
				{Name: "upstream keepalive", start: nginxStart(nginxConfig, "keepalive 8;")},
			},
		},
		{
			Name: "Caddy", Package: "caddy", Binary: "caddy", versionArgs: []string{"version"},
			Configs: []Config{{Name: "default", start: caddyStart}},
		},
		{
			Name: "Varnish", Package: "varnish", Binary: "varnishd", versionArgs: []string{"-V"},
			Configs: []Config{
				{Name: "built-in VCL (SUB piped)", start: varnishStart(varnishDefaultVCL)},
				{Name: "SUB to pass", start: varnishStart(varnishPassVCL)},
			},
		},
		{
			Name: "Apache", Package: "apache2", Binary: "apache2", versionArgs: []string{"-v"},
			Configs: []Config{
				{Name: "mod_proxy_http", start: apacheStart("http")},
				{Name: "mod_proxy_http2 (h2c upstream)", H2CUpstream: true, start: apacheStart("h2c")},
			},
		},
		{
			Name: "h2o", Package: "h2o", Binary: "h2o", versionArgs: []string{"-v"},
			Configs: []Config{{Name: "default", start: h2oStart}},
		},
		{
			Name: "Traffic Server", Package: "trafficserver", Binary: "traffic_server", versionArgs: []string{"--version"},
			Configs: []Config{
				{Name: "reverse proxy, Debian's cache", start: trafficServerStart("")},
				{Name: "reverse proxy, no cache", start: trafficServerStart("CONFIG proxy.config.http.cache.http INT 0\n")},
			},
		},
	}
}

// Select returns the proxies named in a comma-separated list (any case),
// or every one for "".
func Select(names string) ([]Proxy, error) {
	all := Proxies()
	if names == "" {
		return all, nil
	}
	var chosen []Proxy
	for _, name := range strings.Split(names, ",") {
		i := slices.IndexFunc(all, func(p Proxy) bool { return strings.EqualFold(p.Name, strings.TrimSpace(name)) })
		if i < 0 {
			var known []string
			for _, p := range all {
				known = append(known, p.Name)
			}
			return nil, fmt.Errorf("no proxy %q (known: %s)", name, strings.Join(known, ", "))
		}
		chosen = append(chosen, all[i])
	}
	return chosen, nil
}
