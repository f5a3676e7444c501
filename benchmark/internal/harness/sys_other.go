//go:build !unix

package harness

import "time"

// cpuTime is unknown here: CPU columns read 0.
func cpuTime() time.Duration { return 0 }

func raiseFDLimit() error { return nil }
