package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/grpccompat"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/method"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// startStream is called by a connection's reader for each new stream; it
// counts the handler before starting it, so Stop can wait for every one.
// An idle worker takes the stream if one waits; else a new worker starts.
func (s *Server) startStream(st *connection.Stream) {
	s.callWG.Add(1)
	select {
	case s.work <- st:
	default:
		s.workerWG.Add(1)
		go s.worker(st)
	}
}

// inlineRunner is a Server as its connections see it when their reader
// may run a unary call's handler itself (connection.InlineHandler): with
// one call in flight that saves the hand-off to a worker, most of a short
// call's latency.
type inlineRunner Server

// MayRunInline implements connection.InlineHandler. It counts the
// handler as startStream does, before the reader lets the socket go: a
// Stop that closes the connection from then on waits for it.
func (r *inlineRunner) MayRunInline(st *connection.Stream) bool {
	h, _ := st.Recv.Header() // there: the request has arrived whole
	if h == nil {
		return false
	}
	s := (*Server)(r)
	hd := s.lookup(h.Path)
	if hd == nil || hd.desc.Type != method.Unary {
		return false
	}
	s.callWG.Add(1)
	return true
}

// RunInline implements connection.InlineHandler.
func (r *inlineRunner) RunInline(st *connection.Stream) {
	(*Server)(r).handleStream(st)
}

// maxIdleWorkers bounds the handler goroutines kept waiting for the next
// stream, and workerIdle how long one waits. Reusing one saves starting a
// goroutine and, above all, growing its stack again: a new goroutine's
// stack starts at 2 KiB, a call needs about 8, and copying it as it grew
// was a tenth of a unary call's CPU. A quiet server lets them go.
const (
	maxIdleWorkers = 64
	workerIdle     = 2 * time.Second
)

// worker runs st's handler, then the handlers of the streams given to it
// while it waits idle, until it has waited workerIdle, enough others wait,
// or the server stops. Its frame stays small (the wait is in nextStream):
// it is under every handler, and an idle stream's handler stack shrinks
// only while all the frames under it stay small (handleStream).
func (s *Server) worker(st *connection.Stream) {
	defer s.workerWG.Done()
	var idle *time.Timer // one per worker, not per call
	for st != nil {
		s.handleStream(st)
		st = s.nextStream(&idle)
	}
}

// nextStream waits, as an idle worker, for the next stream to handle; nil
// when the worker is to exit. *idle is the worker's timer, made on first
// use.
//
//go:noinline
func (s *Server) nextStream(idle **time.Timer) *connection.Stream {
	if s.idleWorkers.Add(1) > maxIdleWorkers {
		s.idleWorkers.Add(-1)
		return nil
	}
	if *idle == nil {
		*idle = time.NewTimer(workerIdle)
	} else {
		(*idle).Reset(workerIdle)
	}
	defer s.idleWorkers.Add(-1)
	select {
	case st := <-s.work:
		return st
	case <-(*idle).C:
		return nil
	case <-s.quit:
		(*idle).Stop()
		return nil
	}
}

// handleStream is a stream's goroutine: it checks the request is gRPC,
// routes it and runs its handler.
//
// The checks are in prepareCall, whose large frame is gone by the time the
// handler runs: a handler waiting for a message then uses under 2 KiB of
// its goroutine's stack, so that the garbage collector shrinks a stack
// that grew to 8 KiB while it sent back to 4 KiB, for every idle stream.
func (s *Server) handleStream(st *connection.Stream) {
	defer s.callWG.Done()
	defer st.Finish()
	c, hd, armed := s.prepareCall(st)
	if armed {
		defer func() {
			if st.StopDeadline() {
				s.callWG.Done()
			}
		}()
	}
	if hd != nil {
		c.finish(run(hd, c))
	}
}

// prepareCall checks st's request and makes its Call. It returns the
// handler to run, or nil when it has answered the request itself; armed
// says the deadline's work is registered (HandleDeadline), which the
// caller stops once the call is over.
//
//go:noinline
func (s *Server) prepareCall(st *connection.Stream) (c *Call, hd *handler, armed bool) {
	h, _ := st.Recv.Header()
	if h == nil {
		return nil, nil, false
	}
	if h.Method != "POST" {
		httpError(st, 405, "h2grpc: gRPC requires POST\n")
		return nil, nil, false
	}
	codec, ct, ok := s.codecFor(h.ContentType)
	if !ok {
		httpError(st, 415, "h2grpc: unsupported content-type "+h.ContentType+"\n")
		return nil, nil, false
	}
	// Every response advertises what the server decompresses, so a client
	// may compress its next calls (doc/compression.md).
	*st.Send.Header() = stream.Header{Status: 200, ContentType: ct, AcceptEncoding: compression.AcceptEncoding()}

	c = &Call{st: st, codec: codec, srv: s}
	hd = s.lookup(h.Path)
	if hd != nil {
		c.desc = &hd.desc
	} else {
		c.desc = &method.Desc{Path: h.Path}
	}
	if h.Invalid != "" {
		st.Send.Header().Status = 400
		c.finish(status.New(status.Internal, h.Invalid))
		return nil, nil, false
	}
	if h.Timeout != "" {
		// The connection gave the stream's context the deadline as it
		// parsed the headers; a grpc-timeout it could not parse is
		// answered here.
		if _, err := metadata.DecodeTimeout(h.Timeout); err != nil {
			st.Send.Header().Status = 400
			c.finish(status.Newf(status.Internal, "malformed grpc-timeout %q: %v", h.Timeout, err))
			return nil, nil, false
		}
	}
	ctx := st.Context()
	c.initCallContext(ctx, h)
	if len(s.opts.forward) > 0 {
		c.ctx = keepAfterFunc(forwardContext(c.ctx, h.MD, s.opts.forward), &c.cctx)
	}
	if _, ok := ctx.Deadline(); ok {
		// The deadline's work runs on the timer that ends the stream's
		// context, and is part of the call: Stop waits for it like for
		// the handler. Only the deadline needs the work: the other ends
		// of the context end the stream themselves.
		s.callWG.Add(1)
		if !st.HandleDeadline((*deadlineWork)(c)) {
			s.callWG.Done()
			if ctx.Err() == context.DeadlineExceeded {
				// It passed while the stream waited for a handler.
				c.onContextDone()
				return nil, nil, false
			}
		} else {
			armed = true
		}
	}
	if hd == nil {
		c.finish(s.unimplemented(h.Path))
		return nil, nil, armed
	}
	if h.Encoding != "" && h.Encoding != "identity" {
		if c.dcomp = compression.Get(h.Encoding); c.dcomp == nil {
			c.finish(status.Newf(status.Unimplemented, "grpc: Decompressor is not installed for grpc-encoding %q", h.Encoding))
			return nil, nil, armed
		}
		// Answer in the request's encoding, as grpc-go does; the client
		// advertised it by using it.
		name := compression.Negotiate(h.Encoding, h.AcceptEncoding)
		c.comp, st.Send.Header().Encoding = s.opts.levels.Get(name), name
	}
	return c, hd, armed
}

// run calls the handler, turning a panic into an INTERNAL status so one bad
// call cannot take the server down.
func run(hd *handler, c *Call) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = status.Newf(status.Internal, "h2grpc: handler for %s panicked: %v", hd.desc.Path, r)
		}
	}()
	return grpccompat.FromGRPC(hd.run(c))
}

// deadlineWork is a Call as the connection sees it when the request's
// deadline passes: a conversion, so that handing it over allocates
// nothing.
type deadlineWork Call

// StreamDeadline implements connection.DeadlineHandler: it runs on the
// deadline's timer, once the stream's context has ended.
func (w *deadlineWork) StreamDeadline() {
	c := (*Call)(w)
	defer c.srv.callWG.Done()
	c.onContextDone()
}

// onContextDone ends a call whose deadline passed, even if its handler
// ignores its context: with DEADLINE_EXCEEDED when the handler is not in
// the middle of a send, and with RST_STREAM(CANCEL) in any case.
func (c *Call) onContextDone() {
	if c.ctx.Err() != context.DeadlineExceeded {
		return // the stream's own end (a reset, the connection) already did the work
	}
	err := status.New(status.DeadlineExceeded, "context deadline exceeded")
	c.st.CutShort()
	if c.sendMu.TryLock() {
		if !c.st.Send.Ended() {
			tr := c.trailerFor(err)
			c.st.Send.Close(&tr)
		}
		c.sendMu.Unlock()
	}
	c.st.Cancel(err)
}

// codecFor accepts application/grpc and application/grpc+<subtype>, with
// or without parameters, and returns the codec and the content-type to
// answer with. No subtype means the server's codec (protobuf unless
// replaced); a subtype names the server's codec, protobuf, or a codec
// registered with grpc-go's encoding.RegisterCodec, as in grpc-go.
func (s *Server) codecFor(ct string) (method.Codec, string, bool) {
	base, _, _ := strings.Cut(ct, ";")
	base = strings.TrimSpace(strings.ToLower(base))
	if base == "application/grpc" {
		return s.opts.codec, "application/grpc", true
	}
	sub, ok := strings.CutPrefix(base, "application/grpc+")
	if !ok {
		return nil, "", false
	}
	codec := s.opts.codec
	if sub != codec.Name() {
		if codec = grpccompat.CodecFor(sub); codec == nil {
			return nil, "", false
		}
	}
	return codec, base, true // base is "application/grpc+" + sub
}

// httpError answers a request that is not gRPC with a plain HTTP error,
// once the request has ended: its body is read and dropped first (up to
// maxDiscardedBody, or until it turns out not to be gRPC-framed). Until
// then the stream stays open for the client's frames, and the connection
// answers them as RFC 9113 says for a stream the client is still sending
// on: a body that disagrees with its content-length is a stream error
// (PROTOCOL_ERROR), frames after the client's own RST_STREAM are
// STREAM_CLOSED. Answering at once would close the stream from our side
// (RST_STREAM(NO_ERROR) follows the answer), and the connection would
// then silently drop whatever the client still sends on it.
func httpError(st *connection.Stream, code int, body string) {
	for n := 0; n <= maxDiscardedBody; {
		m, err := st.Recv.Recv()
		if err != nil {
			// io.EOF: the request ended. A reset or the end of the
			// connection: the answer below fails, and nothing is sent.
			// Anything else: a body that is not gRPC-framed, whose
			// rest the connection drops; answer now.
			break
		}
		n += len(m.Data)
		m.Release()
	}
	*st.Send.Header() = stream.Header{Status: code, ContentType: "text/plain; charset=utf-8"}
	if err := st.Send.CloseWithBody([]byte(body)); err != nil {
		st.Cancel(fmt.Errorf("h2grpc: writing HTTP %d: %w", code, err))
	}
}

// maxDiscardedBody bounds how much of a non-gRPC request's body httpError
// reads before it answers.
const maxDiscardedBody = 64 << 10
