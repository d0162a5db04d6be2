// Package multimap holds the operations on a map of slices that more than
// one package needs: the cache's variants of one path, the relay's catch-up
// sources of one shared upstream subscription.
package multimap

// Remove takes the first v out of m[k], and k out of m once nothing is
// left under it. The slice stored is a new one: a caller that still holds
// the old one (a reader that copied it under the lock, then let go) sees it
// unchanged.
func Remove[K, V comparable](m map[K][]V, k K, v V) {
	values := m[k]
	for i, other := range values {
		if other == v {
			values = append(values[:i:i], values[i+1:]...)
			break
		}
	}
	if len(values) == 0 {
		delete(m, k)
	} else {
		m[k] = values
	}
}
