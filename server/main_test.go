package server_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/h2grpc/h2grpc/server"
)

func TestMain(m *testing.M) {
	// Keepalive tests ping every few milliseconds rather than seconds.
	server.SetMinKeepaliveTime(10 * time.Millisecond)
	goleak.VerifyTestMain(m)
}
