package connection

import (
	"container/heap"
	"sync"
	"time"
)

// deadlines holds the request deadlines of one connection's server
// streams, earliest first, under one timer armed for the earliest. A
// stream with a grpc-timeout then costs neither a timer nor the closure a
// time.AfterFunc of its own would take: two allocations and about 150
// bytes per call, held for as long as the call is open.
//
// Lock order: a stream context's mu, then deadlines.mu. The timer's
// function takes the due deadlines out under mu and ends their contexts
// after releasing it.
type deadlines struct {
	mu    sync.Mutex
	heap  dlHeap
	timer *time.Timer // made on first use; armed for heap[0] while heap is not empty
}

// ctxDeadline is the part of a stream context that only a request with a
// deadline needs.
type ctxDeadline struct {
	at time.Time // never changes
	x  *streamContext
	q  *deadlines

	index   int             // in q.heap; -1 when out of it. Under q.mu.
	handler DeadlineHandler // under x.mu
}

// add puts dl in the heap, arming the timer if dl is now the earliest.
func (q *deadlines) add(dl *ctxDeadline) {
	q.mu.Lock()
	defer q.mu.Unlock()
	heap.Push(&q.heap, dl)
	if dl.index != 0 {
		return // the timer is armed for an earlier one
	}
	d := time.Until(dl.at)
	if q.timer == nil {
		q.timer = time.AfterFunc(d, q.fire)
	} else {
		q.timer.Reset(d)
	}
}

// remove takes dl out of the heap, if it is still there. The timer stays
// armed: should it fire before the next deadline, fire finds nothing due
// and arms it again.
func (q *deadlines) remove(dl *ctxDeadline) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if dl.index >= 0 {
		heap.Remove(&q.heap, dl.index)
	}
	if len(q.heap) == 0 {
		if q.timer != nil {
			q.timer.Stop()
		}
		if cap(q.heap) > keptDeadlines {
			q.heap = nil // a burst of calls is over: give its memory back
		}
	}
}

// keptDeadlines is how many heap slots an empty heap keeps, so that calls
// one after another reuse them.
const keptDeadlines = 64

// deadlineQueue returns the connection's deadlines, made on first use. It
// is for the reader.
func (c *Conn) deadlineQueue() *deadlines {
	if c.deadlines == nil {
		c.deadlines = new(deadlines)
	}
	return c.deadlines
}

// fire ends the contexts whose deadline has passed, arms the timer for the
// next one, then runs the deadline handlers of the contexts it ended. All
// the contexts end before any handler runs: a handler may block (the
// server's writes the call's status), and the other calls' contexts are
// not to end late for it.
func (q *deadlines) fire() {
	now := time.Now()
	var due []*ctxDeadline
	q.mu.Lock()
	for len(q.heap) > 0 && !q.heap[0].at.After(now) {
		due = append(due, heap.Pop(&q.heap).(*ctxDeadline))
	}
	if len(q.heap) > 0 {
		q.timer.Reset(q.heap[0].at.Sub(now))
	}
	q.mu.Unlock()
	var handlers []DeadlineHandler
	for _, dl := range due {
		if h := dl.x.expire(); h != nil {
			handlers = append(handlers, h)
		}
	}
	for _, h := range handlers {
		h.StreamDeadline()
	}
}

// dlHeap orders deadlines by time, keeping each one's index current so
// that remove is O(log n).
type dlHeap []*ctxDeadline

func (h dlHeap) Len() int           { return len(h) }
func (h dlHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }

func (h dlHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *dlHeap) Push(v any) {
	dl := v.(*ctxDeadline)
	dl.index = len(*h)
	*h = append(*h, dl)
}

func (h *dlHeap) Pop() any {
	old := *h
	dl := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	dl.index = -1
	return dl
}
