package connection

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestDeadlinesShareTimer: the deadlines of one connection's streams,
// added in any order, each end their context at their own time under the
// connection's one timer; a context that ends first leaves the heap (the
// earliest one included, after which the next still ends on time), and
// the heap gives back its slots once a burst is over.
func TestDeadlinesShareTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := new(deadlines)
		start := time.Now()
		offsets := []time.Duration{5, 1, 4, 2, 3, 2, 6} // seconds
		ended := make([]time.Duration, len(offsets))
		xs := make([]*streamContext, len(offsets))
		for i, d := range offsets {
			x := new(streamContext)
			xs[i] = x
			x.setTimeout(q, d*time.Second)
			context.AfterFunc(x, func() { ended[i] = time.Since(start) })
		}
		xs[1].cancel(errFinished) // the earliest, 1 s
		xs[4].cancel(errFinished) // 3 s
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for i, d := range offsets {
			x := xs[i]
			if i == 1 || i == 4 {
				if x.Err() != context.Canceled {
					t.Errorf("cancelled context %d: Err %v, want Canceled", i, x.Err())
				}
				continue
			}
			if x.Err() != context.DeadlineExceeded || ended[i] != d*time.Second {
				t.Errorf("context %d: Err %v after %v, want DeadlineExceeded after %v", i, x.Err(), ended[i], d*time.Second)
			}
		}
		if len(q.heap) != 0 {
			t.Errorf("%d deadlines left in the heap", len(q.heap))
		}

		// A burst larger than keptDeadlines, all ended early: the slots go.
		burst := make([]*streamContext, 2*keptDeadlines)
		for i := range burst {
			burst[i] = new(streamContext)
			burst[i].setTimeout(q, time.Hour)
		}
		for _, x := range burst {
			x.cancel(errFinished)
		}
		if len(q.heap) != 0 || cap(q.heap) > keptDeadlines {
			t.Errorf("after the burst: %d deadlines, %d slots; want none and at most %d", len(q.heap), cap(q.heap), keptDeadlines)
		}
	})
}

// blockingHandler is a deadline handler that counts its runs and blocks
// until release is closed, as the server's does while it writes a call's
// status to a peer that does not read.
type blockingHandler struct {
	runs    *atomic.Int32
	release chan struct{}
}

func (h blockingHandler) StreamDeadline() {
	h.runs.Add(1)
	<-h.release
}

// TestDeadlineHandlerBlocksNoOther: when the deadlines of several calls
// pass together, every call's context ends before any deadline handler
// runs, so one handler that blocks does not make the others' contexts end
// late.
func TestDeadlineHandlerBlocksNoOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := new(deadlines)
		var runs atomic.Int32
		h := blockingHandler{&runs, make(chan struct{})}
		var xs [3]*streamContext
		for i := range xs {
			s := &Stream{ctx: new(streamContext)}
			xs[i] = s.ctx
			s.ctx.setTimeout(q, time.Second)
			if !s.HandleDeadline(h) {
				t.Fatal("HandleDeadline on a live stream reported false")
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		for i, x := range xs {
			if x.Err() != context.DeadlineExceeded {
				t.Errorf("context %d: Err %v while a deadline handler blocks, want DeadlineExceeded", i, x.Err())
			}
		}
		if n := runs.Load(); n != 1 {
			t.Errorf("%d deadline handlers started while the first blocks, want 1", n)
		}
		close(h.release)
		synctest.Wait()
		if n := runs.Load(); int(n) != len(xs) {
			t.Errorf("%d deadline handlers ran, want %d", n, len(xs))
		}
	})
}
