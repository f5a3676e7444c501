package stream

import (
	"io"
	"sync"

	"github.com/h2grpc/h2grpc/status"
)

// Flow is how a ReceiveStream hands flow-control credit back to its
// connection as the application consumes data. connection/ implements it.
type Flow interface {
	// Consumed reports that n bytes of the stream's DATA were consumed by
	// the application. It is called from application goroutines, never
	// with the stream's lock held, and may write a WINDOW_UPDATE.
	Consumed(n int)
}

// queued is a complete message waiting for the application, with the
// flow-control credit that is returned when the application takes it.
type queued struct {
	m      Message
	credit int
}

// ReceiveStream is the receiving half of a call: the connection's reader
// feeds it header blocks and DATA payloads (the On* methods), the
// application takes messages out with Recv.
//
// Credit follows consumption: bytes of a message are credited when the
// application takes the message, so a reader that stops reading stops the
// sender after at most one window. While nothing is waiting in the queue,
// bytes of the message being assembled are credited as they arrive, so a
// message larger than the window still arrives (the window grows by up to
// one message, which MaxSize bounds).
//
// The On* methods are for the connection's reader goroutine; Recv, Header
// and Trailer may be called from one application goroutine at a time; Close
// and Drain from any goroutine.
type ReceiveStream struct {
	mu   sync.Mutex
	cond sync.Cond // signalled on a new message, header or close

	flow Flow
	dec  Decoder

	queue  []queued // complete messages; queue[head:] are waiting
	head   int
	inline [1]queued // backing array for the common queue of one
	held   int       // credit held back for the message being assembled

	header Header
	// trailer holds the trailer block once hasTrailer is set: storage the
	// owner gave (UseTrailer), else allocated on arrival. A server's
	// streams seldom get one, so none is kept inline.
	trailer *Header
	err     error // io.EOF for a clean end

	hasHeader  bool
	hasTrailer bool
	closed     bool

	// batch says the connection's reader delivers wake-ups itself (Wake)
	// once it has parsed all it read; due says one is owed.
	batch bool
	due   bool

	// What waiters wait for, so the reader wakes nobody needlessly: each
	// wake-up of a parked goroutine costs a scheduler round trip.
	waitMsg    bool
	waitHeader bool
}

// Init prepares the stream; maxSize is the receive size limit (0 for
// DefaultMaxRecvSize). It must be called before the stream is shared.
func (r *ReceiveStream) Init(flow Flow, maxSize int) {
	r.cond.L = &r.mu
	r.flow = flow
	r.dec.MaxSize = maxSize
	r.queue = r.inline[:0]
}

// BatchWakeups makes the On* methods leave waking the stream's waiters to
// Wake, which the connection's reader calls once it has parsed everything
// one read from the socket brought. A unary response is a header block, a
// message and trailers, usually read at once: woken on the first, its
// caller would run, find the call unfinished and sleep again, and each
// wake-up of a parked goroutine costs a scheduler round trip (often a
// futex call and a thread switch). Call it before the stream is shared.
func (r *ReceiveStream) BatchWakeups() { r.batch = true }

// Wake wakes the stream's waiters if an On* call owes them a wake-up.
func (r *ReceiveStream) Wake() {
	r.mu.Lock()
	if r.due {
		r.due = false
		r.cond.Broadcast()
	}
	r.mu.Unlock()
}

// signalLocked wakes the waiters for something the reader fed, now or,
// when it batches wake-ups, at its next Wake.
func (r *ReceiveStream) signalLocked() {
	if r.batch {
		r.due = true
		return
	}
	r.cond.Broadcast()
}

// UseTrailer gives the storage the trailer block is kept in when it
// arrives, so that a stream that gets one (a client's) allocates nothing
// for it. Call it before the stream is shared.
func (r *ReceiveStream) UseTrailer(h *Header) { r.trailer = h }

// SetMaxSize changes the receive size limit; it takes effect from the next
// message.
func (r *ReceiveStream) SetMaxSize(n int) {
	r.mu.Lock()
	r.dec.MaxSize = n
	r.mu.Unlock()
}

// MaxSize returns the receive size limit, which also bounds a message's
// decompressed size.
func (r *ReceiveStream) MaxSize() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dec.maxSize()
}

// OnHeader records the stream's (first) header block.
func (r *ReceiveStream) OnHeader(h *Header) {
	r.mu.Lock()
	if !r.closed && !r.hasHeader {
		r.header = *h
		r.hasHeader = true
		if r.waitHeader {
			r.signalLocked()
		}
	}
	r.mu.Unlock()
}

// OnData feeds a DATA payload, or a part of one: the connection hands over
// what its read buffer holds, so p is only valid during the call and is
// copied into the message being assembled, never kept. It returns the
// credit to give back at once: bytes that went into a message nobody is
// queued ahead of, and bytes that were discarded because the stream is
// closed or broken. A malformed or
// oversized message closes the stream with its status (also returned);
// the stream is not reset here, because the call layer still answers with
// that status (a server's RESOURCE_EXHAUSTED) or resets it (a client).
func (r *ReceiveStream) OnData(p []byte) (credit int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return len(p), nil
	}
	signal := false
	for n := 0; n < len(p); {
		k, m, done, ferr := r.dec.Feed(p[n:])
		n += k
		if ferr != nil {
			r.dec.Reset()
			credit += k + len(p) - n
			r.endLocked(ferr)
			return credit, ferr
		}
		if r.head == len(r.queue) {
			credit += k
		} else {
			r.held += k
		}
		if done {
			r.queue = append(r.queue, queued{m: m, credit: r.held})
			r.held = 0
			signal = true
		}
	}
	if signal && r.waitMsg {
		r.signalLocked()
	}
	return credit, nil
}

// OnEnd records the end of the stream (END_STREAM), with its trailers when
// it ended on a header block; trailer is nil when it ended on DATA. Messages
// already queued are still delivered; then Recv returns io.EOF. Ending in
// the middle of a message is an INTERNAL error.
func (r *ReceiveStream) OnEnd(trailer *Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if trailer != nil {
		if r.trailer == nil {
			r.trailer = new(Header)
		}
		*r.trailer = *trailer
		r.hasTrailer = true
	}
	if r.dec.Pending() {
		r.dec.Reset()
		r.endLocked(status.New(status.Internal, "grpc: stream ended in the middle of a message"))
		return
	}
	r.endLocked(io.EOF)
}

// Close ends the stream with err unless it has ended already: the first
// close wins. Queued messages are still delivered before err.
func (r *ReceiveStream) Close(err error) {
	r.mu.Lock()
	r.closeLocked(err)
	r.mu.Unlock()
}

func (r *ReceiveStream) closeLocked(err error) {
	if r.closed {
		return
	}
	r.closed = true
	r.err = err
	r.due = false
	r.cond.Broadcast()
}

// endLocked is closeLocked for the reader's On* methods.
func (r *ReceiveStream) endLocked(err error) {
	if r.closed {
		return
	}
	r.closed = true
	r.err = err
	if r.waitMsg || r.waitHeader {
		r.signalLocked()
	}
}

// Drain closes the stream with err (if it is still open), drops every queued
// and partial message, and returns the credit they held, which the
// connection gives back to the connection-level window. It is for a stream
// nobody will read any more.
func (r *ReceiveStream) Drain(err error) (credit int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeLocked(err)
	for i := r.head; i < len(r.queue); i++ {
		credit += r.queue[i].credit
		r.queue[i].m.Release()
		r.queue[i] = queued{}
	}
	r.queue, r.head = r.queue[:0], 0
	credit += r.held
	r.held = 0
	r.dec.Reset()
	return credit
}

// Recv returns the next message, blocking until one arrives or the stream
// ends: io.EOF after a clean end, else the error the stream was closed with.
// The caller owns the message until it calls Release on it.
func (r *ReceiveStream) Recv() (Message, error) {
	r.mu.Lock()
	for r.head == len(r.queue) && !r.closed {
		r.waitMsg = true
		r.cond.Wait()
	}
	r.waitMsg = false
	if r.head == len(r.queue) {
		err := r.err
		r.mu.Unlock()
		return Message{}, err
	}
	q := r.queue[r.head]
	r.queue[r.head] = queued{}
	r.head++
	credit := q.credit
	if r.head == len(r.queue) {
		// Nothing waits any more: the message being assembled is no longer
		// held back behind others.
		r.queue, r.head = r.queue[:0], 0
		credit += r.held
		r.held = 0
	}
	r.mu.Unlock()
	if credit > 0 {
		r.flow.Consumed(credit)
	}
	return q.m, nil
}

// Header blocks until the stream's header block has arrived or the stream
// has ended. It returns nil when the stream ended without one (a
// trailers-only response, or a reset), with the error the stream ended with
// (io.EOF for a clean end).
func (r *ReceiveStream) Header() (*Header, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for !r.hasHeader && !r.closed {
		r.waitHeader = true
		r.cond.Wait()
	}
	r.waitHeader = false
	if r.hasHeader {
		return &r.header, nil
	}
	return nil, r.err
}

// Trailer returns the trailers once the stream has ended on a header block,
// else nil. It does not block.
func (r *ReceiveStream) Trailer() *Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hasTrailer {
		return r.trailer
	}
	return nil
}

// Err returns the error the stream ended with (io.EOF for a clean end), or
// nil while it is open. It does not block.
func (r *ReceiveStream) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
