package server

import (
	"context"
	"io"
	"net"
	"sync"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/method"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// Call is one server call as its handler sees it, whatever its pattern: the
// call interface every server surface of h2grpc sits on. Its methods mirror
// grpc-go's ServerStream.
//
// RecvMsg may be called by one goroutine at a time and SendMsg by one
// goroutine at a time; they may be different goroutines. The other methods
// are for the handler's goroutine.
type Call struct {
	st    *connection.Stream
	desc  *method.Desc
	ctx   context.Context
	codec method.Codec
	srv   *Server
	comp  compression.Compressor // compresses responses; nil for identity
	dcomp compression.Compressor // the request's grpc-encoding; nil for identity
	cctx  callContext            // what ctx is, unless forwarding wraps it

	// sendMu orders the handler's sends with the status a passing deadline
	// writes on its own.
	sendMu     sync.Mutex
	trailer    metadata.MD
	noCompress bool // under sendMu: responses go with flag 0

	recvCompressed bool // owned by the receiver: the last request's flag
}

// Context returns the call's context: it carries the request's deadline and
// metadata (metadata.FromIncomingContext) and ends when the client cancels,
// the deadline passes or the connection ends.
func (c *Call) Context() context.Context { return c.ctx }

// Method returns the full method name, "/pkg.Service/Method".
func (c *Call) Method() string { return c.desc.Path }

// Desc returns what the call is.
func (c *Call) Desc() *method.Desc { return c.desc }

// Peer returns the client's address.
func (c *Call) Peer() net.Addr { return c.st.Conn().RemoteAddr() }

// RequestHeader returns the request's header block as received.
func (c *Call) RequestHeader() *stream.Header {
	h, _ := c.st.Recv.Header()
	return h
}

// SetHeader adds md to the response headers, which leave with the first
// message or the status. It fails once they have been sent.
func (c *Call) SetHeader(md metadata.MD) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.setHeaderLocked(md)
}

func (c *Call) setHeaderLocked(md metadata.MD) error {
	if len(md) == 0 {
		return nil // as grpc-go: nothing to add is never an error
	}
	if c.st.Send.HeaderSent() {
		return status.New(status.Internal, "transport: the stream is done or SetHeader was called after headers were sent")
	}
	if err := md.Validate(); err != nil {
		return status.New(status.Internal, err.Error())
	}
	if len(md) > 0 {
		h := c.st.Send.Header()
		h.MD = metadata.Join(h.MD, md)
	}
	return nil
}

// SetSendCompressor compresses the responses with the named algorithm
// ("gzip", "deflate", "zstd", "snappy", or "identity" for none), in place
// of the request's own encoding, which is the default. It fails once the
// headers have been sent, for an unknown name, and for one the client did
// not advertise in grpc-accept-encoding.
func (c *Call) SetSendCompressor(name string) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.st.Send.HeaderSent() {
		return status.New(status.Internal, "grpc: SetSendCompressor called after headers were sent")
	}
	if name == "identity" || name == "" {
		c.comp, c.st.Send.Header().Encoding = nil, ""
		return nil
	}
	comp := c.srv.opts.levels.Get(name)
	if comp == nil {
		return status.Newf(status.Internal, "grpc: compressor %q is not installed", name)
	}
	if h := c.RequestHeader(); h == nil || (h.Encoding != name && !compression.Advertises(h.AcceptEncoding, name)) {
		return status.Newf(status.Internal, "grpc: client does not support compressor %q", name)
	}
	c.comp, c.st.Send.Header().Encoding = comp, name
	return nil
}

// SendHeader adds md to the response headers and sends them now.
func (c *Call) SendHeader(md metadata.MD) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := c.setHeaderLocked(md); err != nil {
		return err
	}
	return c.st.Send.SendHeader()
}

// SetTrailer adds md to the trailers sent with the status.
func (c *Call) SetTrailer(md metadata.MD) error {
	if err := md.Validate(); err != nil {
		return status.New(status.Internal, err.Error())
	}
	c.sendMu.Lock()
	c.trailer = metadata.Join(c.trailer, md)
	c.sendMu.Unlock()
	return nil
}

// RecvMsg receives the next request message into m. It returns io.EOF when
// the client has finished sending, else the call's status as an error.
func (c *Call) RecvMsg(m any) error {
	msg, err := c.st.Recv.Recv()
	if err != nil {
		return err
	}
	return c.decode(&msg, m)
}

// decode unmarshals msg into m. A frame of its own: RecvMsg's stays small
// while a handler waits in it (see handleStream).
//
//go:noinline
func (c *Call) decode(msg *stream.Message, m any) error {
	c.recvCompressed = msg.Compressed
	return stream.Unmarshal(*msg, c.codec, c.dcomp, c.st.Recv.MaxSize(), m)
}

// RecvCompressed reports whether the last request RecvMsg returned arrived
// compressed (its flag was 1), for a handler that must know, as the
// interop tests' expect_compressed asks.
func (c *Call) RecvCompressed() bool { return c.recvCompressed }

// SetMessageCompression turns compression of the following responses off
// (flag 0) or back on, on a call whose responses have an encoding; the
// encoding itself stays. Compressing per message is what gRPC's
// compression.md allows and the interop tests' response_compressed asks.
func (c *Call) SetMessageCompression(on bool) {
	c.sendMu.Lock()
	c.noCompress = !on
	c.sendMu.Unlock()
}

// SendMsg sends m as the next response message, with the response headers
// if they have not been sent. It blocks while the client's flow-control
// window is closed.
func (c *Call) SendMsg(m any) error {
	return c.send(m, nil)
}

// sendLast sends m together with the OK status and trailers: the whole
// response of a unary call in one write.
func (c *Call) sendLast(m any) error {
	return c.send(m, c.trailerFor)
}

func (c *Call) send(m any, last func(error) stream.Header) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	comp := c.comp
	if c.noCompress {
		comp = nil
	}
	buf, compressed, err := stream.Marshal(c.codec, comp, c.srv.opts.compressMin, m)
	if err != nil {
		return err
	}
	defer buf.Release()
	data := buf.B
	if len(data) > c.srv.opts.maxSendSize {
		return status.Newf(status.ResourceExhausted,
			"trying to send message larger than max (%d vs. %d)", len(data), c.srv.opts.maxSendSize)
	}
	if last == nil {
		return c.st.Send.Send(data, compressed)
	}
	tr := last(nil)
	return c.st.Send.SendLast(data, compressed, &tr)
}

// recvOne receives the single request of a unary or server-streaming call:
// zero or several messages end the call with UNIMPLEMENTED, as the gRPC
// conformance suite expects.
func (c *Call) recvOne(m any) error {
	if err := c.RecvMsg(m); err != nil {
		if err == io.EOF {
			return status.New(status.Unimplemented, "grpc: client sent no request message for a single-request method")
		}
		return err
	}
	msg, err := c.st.Recv.Recv()
	if err == nil {
		msg.Release()
		return status.New(status.Unimplemented, "grpc: client sent more than one request message for a single-request method")
	}
	if err != io.EOF {
		return err
	}
	return nil
}

// finish writes the call's status unless the response has ended already.
func (c *Call) finish(err error) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.st.Send.Ended() {
		return
	}
	tr := c.trailerFor(err)
	c.st.Send.Close(&tr)
}

// trailerFor builds the trailer block that carries err as the status;
// sendMu must be held.
func (c *Call) trailerFor(err error) stream.Header {
	st := status.Convert(err)
	h := stream.Header{GRPCStatus: status.WireCode(st.Code()), MD: c.trailer}
	if st != nil {
		h.GRPCMessage = status.EncodeMessage(st.Message())
		h.GRPCDetails, _ = status.EncodeDetails(st)
	}
	return h
}
