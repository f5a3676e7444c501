//go:build !race

package grpccompat

const raceEnabled = false
