//go:build race

package load

// raceEnabled: sync.Pool drops what it holds at random under the race
// detector, so allocation counts mean nothing.
const raceEnabled = true
