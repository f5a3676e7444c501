package client

import (
	"sync"
	"time"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/stream"
)

// Transparent retry (gRFC A6): a stream the server never processed —
// refused with REFUSED_STREAM, above the last-stream-id of its GOAWAY, or
// never written — is replayed once on a new stream, on this connection or
// a new one. Nothing that may have reached a handler is retried: once the
// response header arrives the call keeps nothing.
//
// The sending and the receiving goroutine may each be the first to find
// the stream refused, so the state is under its own lock and either may
// move the call; the other sees the stream has changed and goes on with
// the new one.

// retryBufferMax bounds the request bytes (prefixes included) a call keeps
// for a replay: a call that sent more before the server answered is not
// retried. It is HTTP/2's initial stream window, so a replay does not wait
// for the stream's credit (the connection's is shared, and may).
const retryBufferMax = 65535

type sentMsg struct {
	buf        stream.Buffer
	compressed bool
}

// retryState is what a call sent on its current stream, for a replay. All
// of it is owned by mu, which also orders the swap of the call's stream
// and of its context callback (Call.cur, Call.watch) against the senders.
type retryState struct {
	mu      sync.Mutex
	msgs    []sentMsg
	first   [1]sentMsg // msgs' storage for the usual single message
	size    int        // bytes of msgs, prefixes included
	header  bool       // headers sent on their own (SendHeader)
	closed  bool       // END_STREAM sent, or about to be
	off     bool       // keep nothing: answered, over the bound, retried or ended
	sending bool       // the sender is writing the last of msgs: it releases them
	retried bool       // the one retry a call gets has been used
}

// sendClosed reports whether the requests have ended (CloseSend, or the
// single request sent), without touching the stream a retry may be
// writing to.
func (c *Call) sendClosed() bool {
	c.rs.mu.Lock()
	defer c.rs.mu.Unlock()
	return c.rs.closed
}

// keep records buf as sent (with END_STREAM if last) before the sender
// writes it, and returns the stream to write it on. It reports whether
// the call keeps buf; the sender must then hand it to sent, else release
// it itself.
func (c *Call) keep(buf stream.Buffer, compressed, last bool) (*connection.Stream, bool) {
	r := &c.rs
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = r.closed || last
	if !r.off && r.size+stream.PrefixLen+len(buf.B) > retryBufferMax {
		r.releaseLocked()
	}
	if r.off {
		return c.st(), false
	}
	if r.msgs == nil {
		r.msgs = r.first[:0]
	}
	r.msgs = append(r.msgs, sentMsg{buf, compressed})
	r.size += stream.PrefixLen + len(buf.B)
	r.sending = true
	return c.st(), true
}

// sent follows the write of a message keep was given: a kept buffer that
// is no longer wanted is released now that nothing reads it.
func (c *Call) sent(kept bool, buf *stream.Buffer) {
	if !kept {
		buf.Release()
		return
	}
	r := &c.rs
	r.mu.Lock()
	r.sending = false
	if r.off {
		r.releaseLocked()
	}
	r.mu.Unlock()
}

// markSent records headers sent on their own (closed false) or
// END_STREAM (closed true), and returns the stream to send them on.
func (c *Call) markSent(closed bool) *connection.Stream {
	r := &c.rs
	r.mu.Lock()
	defer r.mu.Unlock()
	if closed {
		r.closed = true
	} else {
		r.header = true
	}
	return c.st()
}

// forgetSent drops what was kept: the server has answered, or the call
// has ended.
func (c *Call) forgetSent() {
	r := &c.rs
	r.mu.Lock()
	r.off = true
	r.releaseLocked()
	r.mu.Unlock()
}

// releaseLocked releases the kept buffers, unless the sender is writing
// one of them: then sent does it.
func (r *retryState) releaseLocked() {
	r.off = true
	if r.sending {
		return
	}
	for i := range r.msgs {
		r.msgs[i].buf.Release()
	}
	clear(r.msgs)
	r.msgs = r.msgs[:0]
	r.size = 0
}

// retry moves the call from old, a stream that failed, to a new stream if
// the server never processed old and the call kept all it sent, at most
// once. It reports whether the call now runs on another stream than old
// (moved here or by the other goroutine).
func (c *Call) retry(old *connection.Stream) bool {
	r := &c.rs
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.st() != old {
		return true
	}
	if r.off || r.retried || !old.Refused() {
		return false
	}
	if h, _ := old.Recv.Header(); h != nil {
		return false
	}
	r.retried = true
	cc, err := c.conn.connFor(c.ctx, c.opts.waitForReady)
	if err != nil {
		return false
	}
	st, err := cc.NewStream(c.ctx)
	if err != nil {
		return false
	}
	if c.watch != nil && !c.unwatchContext() {
		// The context ended meanwhile: its status stands.
		st.Finish()
		return false
	}
	// A block of its own: the sender may still be writing old's.
	h := new(stream.Header)
	*h = *old.Send.SentHeader()
	if dl, ok := c.ctx.Deadline(); ok {
		h.Timeout = metadata.EncodeTimeout(time.Until(dl))
	}
	st.Send.UseHeader(h)
	if c.opts.maxRecvSize > 0 {
		st.Recv.SetMaxSize(c.opts.maxRecvSize)
	}
	c.cur.Store(st)
	old.Finish()
	if c.watch != nil {
		c.watchContext() // its ctxWatch again: stopped before it ran
	}
	// Replay. A failed write shows in the receive that follows.
	for i, m := range r.msgs {
		if r.closed && i == len(r.msgs)-1 {
			st.Send.SendLast(m.buf.B, m.compressed, nil)
		} else if st.Send.Send(m.buf.B, m.compressed) != nil {
			break
		}
	}
	switch {
	case r.closed && len(r.msgs) == 0:
		st.Send.Close(nil)
	case r.header && len(r.msgs) == 0:
		st.Send.SendHeader()
	}
	r.releaseLocked()
	return true
}
