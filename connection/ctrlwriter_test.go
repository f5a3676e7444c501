package connection_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"testing/synctest"

	"golang.org/x/net/http2"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
)

// TestControlWriterOnlyWhileWorking: an idle connection runs no control
// writer; one starts for each control frame the reader queues, writes it
// and exits, and the next frame starts another.
func TestControlWriterOnlyWhileWorking(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		s := startServer(t, ctx, connection.Config{}, func(*connection.Stream) {})
		p := s.peer
		p.Handshake()
		for i := range 3 {
			synctest.Wait()
			if s.conn.ControlWriterRunning() {
				t.Fatalf("round %d: a control writer runs on an idle connection", i)
			}
			data := [8]byte{byte(i + 1)}
			p.WritePing(false, data)
			if f := p.Expect(http2.FramePing, 0); !f.IsAck() || f.Ping != data {
				t.Fatalf("round %d: got %v, want the PING's ACK", i, f)
			}
		}
		synctest.Wait()
		if s.conn.ControlWriterRunning() {
			t.Fatal("a control writer runs on an idle connection")
		}
	})
}

// TestControlWriterWakeUps: Pings from many goroutines at once, both
// sides' control writers starting and exiting all the while, over TCP:
// every PING and every ACK is written (a lost wake-up would leave a Ping
// waiting for ever), and Close leaves no writer behind (goleak).
func TestControlWriterWakeUps(t *testing.T) {
	a, b := tcpPair(t)
	srv := connection.NewServerConn(b, connection.Config{}, func(st *connection.Stream) { st.Finish() })
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	cl, err := connection.NewClientConn(a, connection.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if err := cl.Ping(ctx); err != nil {
					t.Errorf("client Ping: %v", err)
					return
				}
				if err := srv.Ping(ctx); err != nil {
					t.Errorf("server Ping: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	cl.Close()
	<-served
	srv.Close()
}

// TestControlFramesWaitForPreface: control frames queued on a server
// connection before Serve (a Drain's GOAWAY and PING) leave after its
// SETTINGS, which must be the first frame (RFC 9113 §3.4).
func TestControlFramesWaitForPreface(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		a, b := net.Pipe()
		p := h2test.NewClient(ctx, t, b)
		conn := connection.NewServerConn(a, connection.Config{}, func(st *connection.Stream) { st.Finish() })
		drained := make(chan error, 1)
		go func() { drained <- conn.Shutdown(ctx) }()
		synctest.Wait()
		served := make(chan struct{})
		go func() {
			conn.Serve()
			close(served)
		}()
		fs := p.Handshake()
		if fs[0].Type != http2.FrameSettings || fs[0].IsAck() {
			t.Fatalf("first frame %v, want SETTINGS", fs[0])
		}
		// The shutdown's GOAWAY and PING come with the handshake or after.
		ping := -1
		for i := 0; ping < 0; i++ {
			if i == len(fs) {
				fs = append(fs, p.Next())
			}
			if fs[i].Type == http2.FramePing && !fs[i].IsAck() {
				ping = i
			}
		}
		p.WritePing(true, fs[ping].Ping)
		if err := <-drained; err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		<-served
	})
}
