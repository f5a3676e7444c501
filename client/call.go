package client

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/method"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// CallOption configures one call.
type CallOption interface {
	applyCall(*callOptions)
}

type callOptions struct {
	maxRecvSize int
	maxSendSize int
	header      *metadata.MD
	trailer     *metadata.MD
}

type callOptionFunc func(*callOptions)

func (f callOptionFunc) applyCall(o *callOptions) { f(o) }

// MaxCallRecvMsgSize limits the size of a message this call receives.
func MaxCallRecvMsgSize(n int) CallOption {
	return callOptionFunc(func(o *callOptions) { o.maxRecvSize = n })
}

// MaxCallSendMsgSize limits the size of a message this call sends.
func MaxCallSendMsgSize(n int) CallOption {
	return callOptionFunc(func(o *callOptions) { o.maxSendSize = n })
}

// Header stores the response headers' metadata in *md when a unary call
// ends (as grpc-go's grpc.Header does).
func Header(md *metadata.MD) CallOption {
	return callOptionFunc(func(o *callOptions) { o.header = md })
}

// Trailer stores the trailers' metadata in *md when a unary call ends.
func Trailer(md *metadata.MD) CallOption {
	return callOptionFunc(func(o *callOptions) { o.trailer = md })
}

// Call is one client call, whatever its pattern: the call interface every
// client surface of h2grpc sits on. Its methods mirror grpc-go's
// ClientStream.
//
// SendMsg and CloseSend may be called by one goroutine at a time, RecvMsg
// by one goroutine at a time; they may be different goroutines. Header and
// Trailer may be called from any goroutine.
type Call struct {
	st      *connection.Stream
	ctx     context.Context
	codec   method.Codec
	maxSend int
	stop    func() bool // stops the context's AfterFunc
	opts    callOptions

	// Owned by the receiving goroutine.
	checkedHeader bool
	done          bool
	err           error // the call's status once done; nil for OK
}

// NewCall starts a call of the method at path ("/pkg.Service/Method"). Its
// headers leave with the first message or CloseSend (so a unary request is
// one write), or with SendHeader. The call ends when RecvMsg returns an
// error (io.EOF for OK) or ctx ends.
func (c *Conn) NewCall(ctx context.Context, path string, opts ...CallOption) (*Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, contextStatus(err)
	}
	co := callOptions{maxSendSize: c.opts.maxSendSize}
	for _, o := range opts {
		o.applyCall(&co)
	}
	h := stream.Header{
		Method:      "POST",
		Scheme:      "http",
		Path:        path,
		Authority:   c.opts.authority,
		ContentType: c.ct,
		UserAgent:   c.opts.userAgent,
		TE:          "trailers",
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		if err := md.Validate(); err != nil {
			return nil, status.Newf(status.Internal, "grpc: invalid outgoing metadata: %v", err)
		}
		h.MD = md
	}
	cc, err := c.conn()
	if err != nil {
		return nil, err
	}
	st, err := cc.NewStream(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, contextStatus(ctx.Err())
		}
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		h.Timeout = metadata.EncodeTimeout(time.Until(dl))
	}
	st.Send.Header = h
	if co.maxRecvSize > 0 {
		st.Recv.SetMaxSize(co.maxRecvSize)
	}
	call := &Call{st: st, ctx: ctx, codec: c.opts.codec, maxSend: co.maxSendSize, opts: co}
	if ctx.Done() != nil {
		call.stop = context.AfterFunc(ctx, call.onContextDone)
	}
	return call, nil
}

// onContextDone resets the stream when the call's context ends; blocked
// sends and receives return at once.
func (c *Call) onContextDone() {
	c.st.Cancel(contextStatus(c.ctx.Err()))
}

func contextStatus(err error) *status.Error {
	if err == context.DeadlineExceeded {
		return status.New(status.DeadlineExceeded, "context deadline exceeded")
	}
	return status.New(status.Canceled, "context canceled")
}

// Context returns the call's context.
func (c *Call) Context() context.Context { return c.ctx }

// SendMsg sends m as the next request message, with the request headers if
// they have not been sent. It blocks while the server's flow-control window
// is closed. When the call has ended it returns io.EOF; RecvMsg then tells
// the status.
func (c *Call) SendMsg(m any) error {
	return c.send(m, false)
}

// sendLast sends m and END_STREAM: a whole unary request in one write.
func (c *Call) sendLast(m any) error {
	return c.send(m, true)
}

func (c *Call) send(m any, last bool) error {
	if c.st.Send.Ended() {
		return status.New(status.Internal, "grpc: SendMsg called after CloseSend")
	}
	buf := stream.GetBuffer(method.SizeHint(c.codec, m, 512))
	defer buf.Release()
	data, err := c.codec.Marshal(buf.B, m)
	if err != nil {
		return status.Newf(status.Internal, "grpc: error while marshaling: %v", err)
	}
	buf.B = data
	if len(data) > c.maxSend {
		return status.Newf(status.ResourceExhausted,
			"grpc: trying to send message larger than max (%d vs. %d)", len(data), c.maxSend)
	}
	if last {
		err = c.st.Send.SendLast(data, false, nil)
	} else {
		err = c.st.Send.Send(data, false)
	}
	if err != nil {
		return io.EOF
	}
	return nil
}

// SendHeader sends the request headers now instead of with the first
// message, for a call whose server may speak before the client does. If the
// call has already ended it returns its status.
func (c *Call) SendHeader() error {
	if err := c.st.Send.SendHeader(); err != nil {
		c.finish(err)
		return c.err
	}
	return nil
}

// CloseSend tells the server no more messages will be sent.
func (c *Call) CloseSend() error {
	c.st.Send.Close(nil)
	return nil
}

// RecvMsg receives the next response message into m. When the call ends it
// returns io.EOF for OK, else the status as an error.
func (c *Call) RecvMsg(m any) error {
	if c.done {
		return c.endErr()
	}
	// The header is checked after Recv, when it has arrived anyway (it
	// comes first): waiting for it separately would park and wake this
	// goroutine once more per call.
	msg, err := c.st.Recv.Recv()
	if !c.checkedHeader {
		c.checkedHeader = true
		if herr := c.checkHeader(); herr != nil {
			msg.Release()
			return c.fail(herr)
		}
	}
	if err != nil {
		c.finish(err)
		return c.endErr()
	}
	defer msg.Release()
	if msg.Compressed {
		return c.fail(status.New(status.Internal, "grpc: compressed flag set on a message with no grpc-encoding"))
	}
	if err := c.codec.Unmarshal(msg.Data, m); err != nil {
		return c.fail(status.Newf(status.Internal, "grpc: failed to unmarshal the received message: %v", err))
	}
	return nil
}

// recvEnd waits for the end of a call that must send no more messages: a
// further message is a cardinality violation.
func (c *Call) recvEnd() error {
	if c.done {
		return c.err
	}
	msg, err := c.st.Recv.Recv()
	if err == nil {
		msg.Release()
		return c.fail(status.New(status.Unimplemented, "grpc: server sent more than one response message for a single-response method"))
	}
	c.finish(err)
	return c.err
}

// recvOne receives the single response of a unary or client-streaming
// call and waits for its status.
func (c *Call) recvOne(m any) error {
	err := c.recvOneMsg(m)
	if c.opts.header != nil {
		*c.opts.header, _ = c.Header()
	}
	if c.opts.trailer != nil {
		*c.opts.trailer = c.Trailer()
	}
	return err
}

func (c *Call) recvOneMsg(m any) error {
	if err := c.RecvMsg(m); err != nil {
		if err == io.EOF {
			return status.New(status.Unimplemented, "grpc: server sent no response message for a single-response method")
		}
		return err
	}
	return c.recvEnd()
}

// checkHeader refuses a response that is not gRPC, mapping its HTTP status
// as the spec says.
func (c *Call) checkHeader() error {
	h, _ := c.st.Recv.Header()
	if h == nil {
		return nil // trailers-only or reset: the status comes from the end
	}
	if h.Status != 200 {
		return httpStatusError(h.Status)
	}
	if !isGRPCContentType(h.ContentType) {
		return status.Newf(status.Unknown, "unexpected content-type %q in response", h.ContentType)
	}
	if h.Encoding != "" && h.Encoding != "identity" {
		return status.Newf(status.Internal, "grpc: response uses unsupported grpc-encoding %q", h.Encoding)
	}
	return nil
}

func isGRPCContentType(ct string) bool {
	base, _, _ := strings.Cut(ct, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	return base == "application/grpc" || strings.HasPrefix(base, "application/grpc+")
}

func httpStatusError(code int) *status.Error {
	return status.Newf(status.FromHTTPStatus(code), "unexpected HTTP status code received from server: %d", code)
}

// fail ends the call with err, resetting the stream.
func (c *Call) fail(err error) error {
	if !c.done {
		c.st.Cancel(err)
		c.finish(err)
	}
	return c.endErr()
}

// finish records the call's status from how the receive side ended and
// releases the stream.
func (c *Call) finish(recvErr error) {
	if c.done {
		return
	}
	c.done = true
	if recvErr == io.EOF {
		if st := c.statusFromTrailer(); st != nil {
			c.err = st
		}
	} else {
		c.err = recvErr
	}
	if c.stop != nil {
		c.stop()
	}
	c.st.Finish()
}

// statusFromTrailer reads the status from the trailers, or from the HTTP
// status when the response carries none (SPEC.md "Responses").
func (c *Call) statusFromTrailer() *status.Error {
	tr := c.st.Recv.Trailer()
	if tr == nil {
		if h, _ := c.st.Recv.Header(); h != nil && h.Status != 200 {
			return httpStatusError(h.Status)
		}
		return status.New(status.Internal, "server closed the stream without sending trailers")
	}
	if tr.GRPCStatus == "" {
		if tr.Status != 0 && tr.Status != 200 {
			return httpStatusError(tr.Status)
		}
		return status.New(status.Unknown, "server sent trailers without grpc-status")
	}
	if tr.Invalid != "" {
		return status.New(status.Internal, tr.Invalid)
	}
	return status.Parse(tr.GRPCStatus, tr.GRPCMessage, tr.GRPCDetails)
}

func (c *Call) endErr() error {
	if c.err == nil {
		return io.EOF
	}
	return c.err
}

// Header returns the response headers' metadata, waiting for them. It
// returns nil and no error when the call ended without headers (a
// trailers-only response; RecvMsg tells the status).
func (c *Call) Header() (metadata.MD, error) {
	h, err := c.st.Recv.Header()
	if h != nil {
		return h.MD, nil
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	return nil, nil
}

// Trailer returns the trailers' metadata once RecvMsg has returned an
// error; before that it returns nil.
func (c *Call) Trailer() metadata.MD {
	if tr := c.st.Recv.Trailer(); tr != nil {
		return tr.MD
	}
	return nil
}
