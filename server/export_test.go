package server

import "time"

// SetMinKeepaliveTime lowers the floor of KeepaliveParameters.Time so tests
// need not wait seconds; TestMain calls it before any test runs.
func SetMinKeepaliveTime(d time.Duration) { minKeepaliveTime = d }
