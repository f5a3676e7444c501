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
	timer *time.Timer // made on first use
	// armed is when the timer is set to fire; zero when it is not set.
	// It is never later than heap[0]'s deadline, and may be earlier (that
	// deadline's call has ended): the timer then finds nothing due and is
	// set for the next. A Reset or Stop per call costs more than such a
	// spare run (in separate processes, a tenth of a unary call's CPU).
	armed time.Time
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

// add puts dl in the heap, setting the timer for it if it is due before
// the timer fires.
func (q *deadlines) add(dl *ctxDeadline) {
	q.mu.Lock()
	defer q.mu.Unlock()
	heap.Push(&q.heap, dl)
	if q.armed.IsZero() || dl.at.Before(q.armed) {
		q.armLocked(dl.at)
	}
}

// armLocked sets the timer to fire at at; q.mu must be held.
func (q *deadlines) armLocked(at time.Time) {
	q.armed = at
	d := time.Until(at)
	if q.timer == nil {
		q.timer = time.AfterFunc(d, q.fire)
	} else {
		q.timer.Reset(d)
	}
}

// remove takes dl out of the heap, if it is still there. The timer stays
// set (see armed).
func (q *deadlines) remove(dl *ctxDeadline) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if dl.index >= 0 {
		heap.Remove(&q.heap, dl.index)
	}
	if len(q.heap) == 0 && cap(q.heap) > keptDeadlines {
		q.heap = nil // a burst of calls is over: give its memory back
	}
}

// stop stops the timer of a connection that has ended, unless a deadline
// is still to come (a call whose stream closed before the connection ended
// may still be running): the timer would otherwise hold q until it fires.
func (q *deadlines) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.heap) == 0 && q.timer != nil {
		q.timer.Stop()
		q.armed = time.Time{}
	}
}

// release stops the timer when no deadline is pending, and reports
// whether q may then be dropped: the reader, the only one that adds to q,
// makes another with the next deadline (Conn.releaseIdle).
func (q *deadlines) release() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.heap) > 0 {
		return false
	}
	if q.timer != nil {
		q.timer.Stop()
	}
	return true
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
	q.armed = time.Time{}
	for len(q.heap) > 0 && !q.heap[0].at.After(now) {
		due = append(due, heap.Pop(&q.heap).(*ctxDeadline))
	}
	if len(q.heap) > 0 {
		q.armLocked(q.heap[0].at)
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
