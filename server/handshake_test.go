package server_test

import (
	"net"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/server"
)

// ConnectionTimeout also bounds the HTTP/2 preface: an h2c client that
// connects and says nothing is disconnected.
func TestConnectionTimeoutCoversPreface(t *testing.T) {
	s := server.New(server.ConnectionTimeout(100 * time.Millisecond))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	defer s.Stop()
	nc, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1024)
	for {
		if _, err := nc.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("silent client still connected after 5s with ConnectionTimeout(100ms)")
			}
			return
		}
	}
}
