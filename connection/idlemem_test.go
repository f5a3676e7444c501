//go:build !race

// Memory is not measured under the race detector, which keeps shadow
// memory of its own; this file is left out of -race builds.

package connection

import (
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestIdleConnMemory bounds what an idle server connection holds, heap and
// goroutine stacks, measured over idleMemConns connections whose client
// has finished its handshake and fallen silent. A parked connection has no
// goroutine, so its stacks are nothing; its heap is the Conn, the Framer,
// the header codecs and the socket's net.Conn (both ends' here, the client
// being in this process too).
func TestIdleConnMemory(t *testing.T) {
	if !idlePollAvailable() {
		t.Skip("connections do not park here")
	}
	if os.Getenv("IDLEMEM_HEAPPROFILE") != "" {
		defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}
	defer func(d time.Duration) { idleGrace = d }(idleGrace)
	idleGrace = time.Millisecond

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make(chan *Conn, idleMemConns+1)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := NewServerConn(nc, Config{}, func(s *Stream) {})
			conns <- c
			go c.Start(nil)
		}
	}()
	var hello []byte
	hello = append(hello, http2.ClientPreface...)
	hello = append(hello, 0, 0, 0, byte(http2.FrameSettings), 0, 0, 0, 0, 0)
	hello = append(hello, 0, 0, 0, byte(http2.FrameSettings), byte(http2.FlagSettingsAck), 0, 0, 0, 0)
	var clients []net.Conn
	var servers []*Conn
	defer func() {
		for _, nc := range clients {
			nc.Close()
		}
		for _, c := range servers {
			c.Close()
		}
	}()
	open := func() {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, nc)
		if _, err := nc.Write(hello); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, <-conns)
	}
	waitParked := func() {
		for _, c := range servers {
			for !c.parked.Load() {
				if err := c.Err(); err != nil {
					t.Fatalf("connection ended: %v", err)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	open() // the one-time costs: the idle poller, the buffer pools
	waitParked()
	before := memStats()
	g0 := runtime.NumGoroutine()
	for range idleMemConns {
		open()
	}
	waitParked()
	after := memStats()
	g1 := runtime.NumGoroutine()
	if p := os.Getenv("IDLEMEM_HEAPPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	heap := (int64(after.HeapInuse) - int64(before.HeapInuse)) / idleMemConns
	stacks := (int64(after.StackInuse) - int64(before.StackInuse)) / idleMemConns
	t.Logf("per idle connection: heap %d B, stacks %d B; goroutines %d -> %d", heap, stacks, g0, g1)
	// A control writer may be on its way out: a few goroutines more are
	// not one per connection.
	if g1-g0 > idleMemConns/10 {
		t.Errorf("%d goroutines for %d idle connections", g1-g0, idleMemConns)
	}
	// Stacks freed of earlier tests' goroutines can make the growth
	// negative: it does not pay for the heap.
	stacks = max(stacks, 0)
	if heap+stacks > idleMemBudget {
		t.Errorf("an idle connection holds %d B of heap and %d B of stacks, want at most %d B together", heap, stacks, idleMemBudget)
	}
}

const (
	idleMemConns = 500
	// idleMemBudget leaves room above what an idle connection holds
	// today, both ends of its socket included (3.1 KiB of heap and 0.2 to
	// 0.6 KiB of stacks, December 2026: the stacks of exited readers kept
	// for reuse vary): a real regression (a goroutine per connection is
	// 2.4 KiB at least, a socket buffer held 64 KiB) fails, not noise.
	idleMemBudget = 4608
)

func memStats() runtime.MemStats {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}
