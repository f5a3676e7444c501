package connection

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// countingHandler counts the runs of a deadline handler and notes the
// context's Err when it ran.
type countingHandler struct {
	ctx  context.Context
	runs atomic.Int32
	err  error
	ran  chan struct{} // closed by the first run, if not nil
}

func (h *countingHandler) StreamDeadline() {
	h.err = h.ctx.Err()
	if h.runs.Add(1) == 1 && h.ran != nil {
		close(h.ran)
	}
}

type testKey struct{}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// A Go release that hides the key context.Cause asks for would make
// context.Cause of a stream context its Err, not its cause.
func TestCancelCtxKeyFound(t *testing.T) {
	if cancelCtxKey == nil {
		t.Fatal("context.Cause's key was not found: stream contexts lose their cause")
	}
}

// TestStreamContextDeadline: at the deadline the context and the children
// a handler made of it end with DeadlineExceeded, then the deadline
// handler runs, once, and the timer is gone. The children are registered
// with the context, not watched by goroutines.
func TestStreamContextDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Stream{ctx: new(streamContext)}
		x := s.ctx
		start := time.Now()
		x.setTimeout(new(deadlines), time.Second)
		h := &countingHandler{ctx: x}
		if !s.HandleDeadline(h) {
			t.Fatal("HandleDeadline on a live context reported false")
		}
		if dl, ok := x.Deadline(); !ok || !dl.Equal(start.Add(time.Second)) {
			t.Errorf("Deadline = %v, %v; want %v, true", dl, ok, start.Add(time.Second))
		}
		done := x.Done()
		if x.Err() != nil || isClosed(done) {
			t.Fatal("the context ended before its deadline")
		}

		withCancel, cancel1 := context.WithCancel(x)
		defer cancel1()
		withTimeout, cancel2 := context.WithTimeout(x, time.Hour)
		defer cancel2()
		if dl, _ := withTimeout.Deadline(); !dl.Equal(start.Add(time.Second)) {
			t.Errorf("a child's later deadline %v was not capped at the parent's", dl)
		}
		grandchild, cancel3 := context.WithCancelCause(withCancel)
		defer cancel3(nil)
		ran := make(chan struct{})
		context.AfterFunc(x, func() { close(ran) })
		x.mu.Lock()
		registered := len(x.more.funcs)
		x.mu.Unlock()
		if registered != 3 { // withCancel, withTimeout, the AfterFunc
			t.Errorf("%d functions registered with the context, want 3", registered)
		}

		time.Sleep(time.Second)
		synctest.Wait()
		if !isClosed(done) || !isClosed(x.Done()) {
			t.Error("Done is not closed after the deadline")
		}
		if err := x.Err(); err != context.DeadlineExceeded {
			t.Errorf("Err = %v, want DeadlineExceeded", err)
		}
		if err := context.Cause(x); err != context.DeadlineExceeded {
			t.Errorf("Cause = %v, want DeadlineExceeded", err)
		}
		for name, c := range map[string]context.Context{"WithCancel": withCancel, "WithTimeout": withTimeout, "grandchild": grandchild} {
			if !isClosed(c.Done()) || c.Err() != context.DeadlineExceeded || context.Cause(c) != context.DeadlineExceeded {
				t.Errorf("%s child: Err %v, Cause %v; want DeadlineExceeded for both", name, c.Err(), context.Cause(c))
			}
		}
		if !isClosed(ran) {
			t.Error("context.AfterFunc's function did not run")
		}
		if n := h.runs.Load(); n != 1 || h.err != context.DeadlineExceeded {
			t.Errorf("deadline handler ran %d times, seeing Err %v; want once, seeing DeadlineExceeded", n, h.err)
		}
		if s.StopDeadline() {
			t.Error("StopDeadline after the handler ran reported true")
		}
		x.cancel(errors.New("late"))
		if x.Err() != context.DeadlineExceeded || context.Cause(x) != context.DeadlineExceeded {
			t.Error("a cancel after the deadline changed Err or Cause")
		}
		if x.dl.index >= 0 || x.more.funcs != nil {
			t.Error("the context kept its timer or functions after it ended")
		}
	})
}

// TestStreamContextCancelCause: a reset (or the connection's end) ends
// the context with Canceled and its cause, seen by children too; the
// deadline timer stops and the deadline handler never runs.
func TestStreamContextCancelCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Stream{ctx: new(streamContext)}
		x := s.ctx
		x.setTimeout(new(deadlines), time.Minute)
		h := &countingHandler{ctx: x}
		s.HandleDeadline(h)
		child, cancel := context.WithTimeout(x, time.Hour)
		defer cancel()
		grandchild, cancel2 := context.WithCancel(child)
		defer cancel2()
		valued := context.WithValue(x, testKey{}, "v")

		cause := errors.New("stream reset by peer: CANCEL")
		x.cancel(cause)
		if x.Err() != context.Canceled || !isClosed(x.Done()) {
			t.Fatalf("Err = %v, want Canceled with Done closed", x.Err())
		}
		for name, c := range map[string]context.Context{"context": x, "child": child, "grandchild": grandchild, "WithValue": valued} {
			if got := context.Cause(c); got != cause {
				t.Errorf("Cause of the %s = %v, want %v", name, got, cause)
			}
			if c.Err() != context.Canceled {
				t.Errorf("Err of the %s = %v, want Canceled", name, c.Err())
			}
		}
		if s.DeadlinePending() {
			t.Error("the deadline timer was not stopped")
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if h.runs.Load() != 0 || x.Err() != context.Canceled {
			t.Error("the deadline acted on a context that had ended")
		}
		if !s.StopDeadline() {
			t.Error("StopDeadline of a handler that never ran reported false")
		}
		if s.HandleDeadline(h) {
			t.Error("HandleDeadline on an ended context reported true")
		}
		// A child made now ends at once, with the cause.
		late, cancel3 := context.WithCancel(x)
		defer cancel3()
		if late.Err() != context.Canceled || context.Cause(late) != cause {
			t.Errorf("a child made after the end: Err %v, Cause %v", late.Err(), context.Cause(late))
		}
	})
}

// TestStreamContextAfterFuncStop: stop reports whether it kept the
// function from running, as context.AfterFunc's does.
func TestStreamContextAfterFuncStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := new(streamContext)
		var runs atomic.Int32
		f := func() { runs.Add(1) }

		stop := x.AfterFunc(f)
		if !stop() {
			t.Error("stop before the end reported false")
		}
		if stop() {
			t.Error("a second stop reported true")
		}
		stdStop := context.AfterFunc(x, f)
		if !stdStop() {
			t.Error("context.AfterFunc's stop before the end reported false")
		}

		stop = x.AfterFunc(f)
		stdStop = context.AfterFunc(x, f)
		x.cancel(errFinished)
		synctest.Wait()
		if n := runs.Load(); n != 2 {
			t.Errorf("%d functions ran at the end, want 2", n)
		}
		if stop() || stdStop() {
			t.Error("stop after the function ran reported true")
		}

		// On an ended context the function runs at once, in a
		// goroutine of its own.
		stop = x.AfterFunc(f)
		synctest.Wait()
		if n := runs.Load(); n != 3 {
			t.Errorf("a function registered after the end did not run (%d runs)", n)
		}
		if stop() {
			t.Error("stop of a function registered after the end reported true")
		}
		if x.Value(testKey{}) != nil {
			t.Error("Value of an unknown key is not nil")
		}
	})
}

// TestStreamContextWithoutDeadline: a context with no deadline has none,
// and ends with its cause when the call finishes.
func TestStreamContextWithoutDeadline(t *testing.T) {
	x := new(streamContext)
	if _, ok := x.Deadline(); ok {
		t.Error("Deadline reported one")
	}
	x.cancel(errFinished)
	if x.Err() != context.Canceled || context.Cause(x) != errFinished {
		t.Errorf("Err %v, Cause %v; want Canceled, %v", x.Err(), context.Cause(x), errFinished)
	}
	if got := x.String(); got != "h2grpc.StreamContext" {
		t.Errorf("String = %q", got)
	}
}

// TestStreamContextRace: the deadline, a cancel, registrations and stops
// from several goroutines at once (for the race detector); every function
// either runs once or is stopped.
func TestStreamContextRace(t *testing.T) {
	for range 50 {
		s := &Stream{ctx: new(streamContext)}
		x := s.ctx
		x.setTimeout(new(deadlines), time.Microsecond)
		h := &countingHandler{ctx: x, ran: make(chan struct{})}
		handling := s.HandleDeadline(h)
		// Each function is either stopped or run, once: fns counts
		// down both, and a function run twice would make it negative.
		var fns sync.WaitGroup
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 20 {
					fns.Add(1)
					stop := x.AfterFunc(fns.Done)
					if stop() {
						fns.Done()
					}
					child, cancel := context.WithCancel(x)
					_ = child.Err()
					cancel()
				}
			})
		}
		wg.Go(func() { x.cancel(errFinished) })
		wg.Go(func() { <-x.Done() })
		wg.Wait()
		fns.Wait() // a function registered after the end runs in a goroutine
		stop := s.StopDeadline()
		if handling && !stop {
			<-h.ran // it has run or is running: it must finish
		}
		if stop && h.runs.Load() != 0 {
			t.Fatal("a stopped deadline handler ran")
		}
	}
}

// TestStreamContextNoDeadline: a stream without a deadline has no deadline
// work to arm (its context never ends that way), and its Done channel,
// made on first use, is the one its end closes.
func TestStreamContextNoDeadline(t *testing.T) {
	s := &Stream{ctx: new(streamContext)}
	x := s.ctx
	if d, ok := x.Deadline(); ok || !d.IsZero() {
		t.Errorf("Deadline = %v, %v; want none", d, ok)
	}
	if s.HandleDeadline(&countingHandler{ctx: x}) {
		t.Error("HandleDeadline on a stream without a deadline reported true")
	}
	if s.StopDeadline() {
		t.Error("StopDeadline on a stream without a deadline reported true")
	}
	done := x.Done()
	if x.Done() != done || isClosed(done) {
		t.Fatal("Done changed, or is closed on a live context")
	}
	x.cancel(errFinished)
	if !isClosed(done) || x.Done() != done || x.Err() != context.Canceled {
		t.Errorf("after the end: Done closed %v, same %v, Err %v; want closed, same, Canceled", isClosed(done), x.Done() == done, x.Err())
	}

	// Ended before anyone asked: Done is a closed channel at once.
	y := new(streamContext)
	y.cancel(errFinished)
	if !isClosed(y.Done()) {
		t.Error("Done of a context that ended unasked is not closed")
	}
}
