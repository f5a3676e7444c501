package connection_test

import (
	"context"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/h2test"
	"github.com/h2grpc/h2grpc/status"
)

type deadlineFunc func()

func (f deadlineFunc) StreamDeadline() { f() }

// TestServerStreamDeadline: a request's grpc-timeout is its stream
// context's deadline, counted from the arrival of its headers (here while
// the stream waits for a handler slot); when it passes, the context ends
// with DeadlineExceeded and then the deadline handler runs.
func TestServerStreamDeadline(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		type result struct {
			deadline   time.Time
			err, cause error
		}
		res := make(chan result, 1)
		release := make(chan struct{})
		s := startServer(t, ctx, connection.Config{MaxConcurrentStreams: 1}, func(st *connection.Stream) {
			if _, err := recvAll(st); err != io.EOF {
				t.Errorf("request: %v", err)
			}
			if st.ID() == 1 {
				// Answered, so the stream is closed, but the handler
				// goes on: the next stream waits for its slot.
				setResponseHeader(st)
				st.Send.SendLast([]byte("r"), false, okStatus())
				<-release
				return
			}
			ran := make(chan error, 1)
			if !st.HandleDeadline(deadlineFunc(func() { ran <- st.Context().Err() })) {
				t.Error("HandleDeadline on a live stream reported false")
			}
			dl, _ := st.Context().Deadline()
			<-st.Context().Done()
			if err := <-ran; err != context.DeadlineExceeded {
				t.Errorf("the deadline handler saw Err %v", err)
			}
			res <- result{dl, st.Context().Err(), context.Cause(st.Context())}
			if st.StopDeadline() {
				t.Error("StopDeadline after the handler ran reported true")
			}
		})
		p := s.peer
		p.Handshake()
		p.WriteHeaders(1, true, h2test.RequestFields("/s/M"))
		expectResponse(t, p, 1)
		start := time.Now()
		p.WriteHeaders(3, true, h2test.RequestFields("/s/M", hpack.HeaderField{Name: "grpc-timeout", Value: "2S"}))
		synctest.Wait()
		time.Sleep(time.Second) // stream 3 waits for stream 1's handler
		close(release)
		r := <-res
		if !r.deadline.Equal(start.Add(2 * time.Second)) {
			t.Errorf("deadline %v, want %v (2 s after the headers arrived)", r.deadline, start.Add(2*time.Second))
		}
		if r.err != context.DeadlineExceeded || r.cause != context.DeadlineExceeded {
			t.Errorf("Err %v, Cause %v; want DeadlineExceeded for both", r.err, r.cause)
		}
		if now := time.Now(); !now.Equal(start.Add(2 * time.Second)) {
			t.Errorf("the context ended at %v, want %v", now, start.Add(2*time.Second))
		}
	})
}

// TestServerStreamDeadlineTimerStops: a call that ends before its
// deadline leaves no timer behind, and its context ends with the cause
// of its end: Finish's, or the peer's reset.
func TestServerStreamDeadlineTimerStops(t *testing.T) {
	bubble(t, func(t *testing.T, ctx context.Context) {
		streams := make(chan *connection.Stream, 2)
		s := startServer(t, ctx, connection.Config{}, func(st *connection.Stream) {
			streams <- st
			if st.ID() == 1 {
				recvAll(st)
				setResponseHeader(st)
				st.Send.SendLast([]byte("r"), false, okStatus())
				return
			}
			<-st.Context().Done()
		})
		p := s.peer
		p.Handshake()
		timeout := hpack.HeaderField{Name: "grpc-timeout", Value: "1H"}
		p.WriteHeaders(1, true, h2test.RequestFields("/s/M", timeout))
		expectResponse(t, p, 1)
		st := <-streams
		synctest.Wait() // Finish has run
		if st.DeadlinePending() {
			t.Error("a finished call kept its deadline timer")
		}
		if err := context.Cause(st.Context()); status.CodeOf(err) != status.Canceled || st.Context().Err() != context.Canceled {
			t.Errorf("finished call: Err %v, Cause %v; want Canceled and a CANCELLED status", st.Context().Err(), err)
		}

		p.WriteHeaders(3, false, h2test.RequestFields("/s/M", timeout))
		st = <-streams
		p.WriteRSTStream(3, 0x8) // CANCEL
		synctest.Wait()
		if st.DeadlinePending() {
			t.Error("a reset call kept its deadline timer")
		}
		cause := context.Cause(st.Context())
		if status.CodeOf(cause) != status.Canceled || status.Convert(cause).Message() != "stream reset by peer: CANCEL" {
			t.Errorf("reset call: Cause %v, want the reset's", cause)
		}
	})
}
