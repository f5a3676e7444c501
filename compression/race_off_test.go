//go:build !race

package compression

// raceEnabled is true under the race detector, whose sync.Pool drops a share
// of Puts on purpose: allocation counts are then meaningless.
const raceEnabled = false
