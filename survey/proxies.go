package survey

import (
	"fmt"
	"slices"
	"strings"
)

// Proxies are the intermediaries surveyed, in the report's order.
func Proxies() []Proxy {
	return []Proxy{
		haproxyProxy(),
		nginxProxy(),
		caddyProxy(),
		varnishProxy(),
		apacheProxy(),
		h2oProxy(),
		trafficServerProxy(),
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
