//go:build race

package server_test

// raceEnabled is true when the race detector is on; the soak tests then
// run smaller, the race detector allowing at most 8128 live goroutines.
const raceEnabled = true
