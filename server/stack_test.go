//go:build !race

// Stack sizes differ under the race detector; this file is left out of
// -race builds.

package server_test

import (
	"context"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// parkedEcho answers each message of a bidi stream with replies; parked
// counts the handlers waiting for their next message. It is shaped like
// the benchmark's FullDuplexCall (a count kept with defer, a loop of
// replies per request), so that its frame is as deep as a typical
// handler's: the stack bound below depends on every frame under Recv.
type parkedEcho struct {
	pb.UnimplementedExampleServer
	open, parked atomic.Int64
}

func (e *parkedEcho) StreamStream(st grpc.BidiStreamingServer[pb.ExampleRequest, pb.ExampleReply]) error {
	e.open.Add(1)
	defer e.open.Add(-1)
	for {
		e.parked.Add(1)
		r, err := st.Recv()
		e.parked.Add(-1)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for _, v := range strings.Split(r.Value, ",") {
			if err := st.Send(&pb.ExampleReply{Message: v}); err != nil {
				return err
			}
		}
	}
}

// TestIdleStreamStack bounds the stack an idle server stream holds: its
// handler, having sent a reply (which may grow its stack to 8 KiB), waits
// for the next message. The runtime halves a stack at a collection only
// when the frames in use, plus 800 bytes, are under a quarter of it, so
// the bound holds only while the frames under a waiting handler stay
// small: handleStream, the worker and RecvMsg keep their large locals in
// frames of their own (prepareCall, nextStream, decode). With this
// handler it fails if handleStream's checks come back into its frame; the
// benchmark's idle-stream workload (h2bench -run mem/idle-streams), whose
// messages grow the stack further, is the finer measure. The client side
// of an h2grpc stream has no goroutine.
func TestIdleStreamStack(t *testing.T) {
	e := &parkedEcho{}
	srv := server.New()
	pb.RegisterExampleServer(srv, e)
	cc := serveAndDial(t, srv)
	ec := pb.NewExampleClient(cc)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	stacks := func() uint64 {
		runtime.GC()
		runtime.GC() // a stack shrinks by half at most per collection
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.StackInuse
	}
	const n = 900 // under the default MaxConcurrentStreams (1000)
	before := stacks()
	var streams []grpc.BidiStreamingClient[pb.ExampleRequest, pb.ExampleReply]
	for range n {
		st, err := ec.StreamStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&pb.ExampleRequest{Value: "x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, st)
	}
	for e.parked.Load() < n {
		time.Sleep(time.Millisecond)
	}
	per := (float64(stacks()) - float64(before)) / n
	t.Logf("%.0f B of stack per idle stream", per)
	// 8 KiB before the handler's frames were cut; 4 KiB is the floor
	// after one halving. Goroutines of other tests ending meanwhile (idle
	// handler workers: at most 64) move the figure by a few hundred bytes.
	if per > 5<<10 {
		t.Errorf("an idle stream holds %.0f B of stack, want at most 5 KiB", per)
	}
	for _, st := range streams {
		st.CloseSend()
	}
}
