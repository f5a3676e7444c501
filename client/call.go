package client

import (
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/credentials"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/internal/grpccompat"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/method"
	"github.com/h2grpc/h2grpc/status"
	"github.com/h2grpc/h2grpc/stream"
)

// defaultMaxSendSize is grpc-go's default limit on a sent message.
const defaultMaxSendSize = 1<<31 - 1

// Call is one client call, whatever its pattern or surface: it is the
// grpc.ClientStream that Conn.NewStream returns and the call Invoke makes.
// Its errors are statuses that h2grpc's and grpc-go's status packages both
// read.
//
// SendMsg and CloseSend may be called by one goroutine at a time, RecvMsg
// by one goroutine at a time; they may be different goroutines. Header and
// Trailer may be called from any goroutine.
type Call struct {
	cur         atomic.Pointer[connection.Stream] // the call's stream; replaced only by retry
	first       connection.Stream                 // the first stream, allocated with the call
	header      stream.Header                     // the first stream's request header block
	trailer     stream.Header                     // the first stream's trailer block, once received
	conn        *Conn
	ctx         context.Context
	codec       method.Codec
	comp        compression.Compressor // compresses requests; nil for identity
	dcomp       compression.Compressor // the response's grpc-encoding; nil for identity
	compressMin int                    // requests shorter go uncompressed
	noCompress  bool                   // owned by the sender: requests go with flag 0
	watch       *ctxWatch              // the context's AfterFunc, if it can end (ctxwatch.go)
	opts        callOptions

	// What the method is: a call whose requests do not stream sends its
	// request with END_STREAM, one whose responses do not stream takes its
	// response together with the status.
	clientStreams, serverStreams bool

	// The context Context returns, made on first use and ended with the
	// call, as grpc-go's stream context is.
	ctxMu     sync.Mutex
	streamCtx context.Context
	cancelCtx context.CancelFunc
	ended     bool

	// What was sent, kept until the server answers, so that a stream the
	// server never processed can be replayed on another (gRFC A6).
	rs retryState

	// Owned by the receiving goroutine.
	checked        *connection.Stream // the stream whose response header was checked
	recvCompressed bool               // the last response's flag
	done           bool
	err            error // the call's status once done, as returned; nil for OK
}

// newCall starts a call of the method at path. Its headers leave with the
// first message or CloseSend (so a unary request is one write), or with
// SendHeader. The call ends when RecvMsg returns an error (io.EOF for OK)
// or ctx ends.
func (c *Conn) newCall(ctx context.Context, path string, clientStreams, serverStreams bool, opts []CallOption) (*Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, contextStatus(err)
	}
	call := &Call{ctx: ctx, conn: c, codec: c.opts.codec, compressMin: c.opts.compressMin, clientStreams: clientStreams, serverStreams: serverStreams}
	co := &call.opts
	co.maxSendSize = defaultMaxSendSize
	co.apply(opts)
	h := &call.header
	*h = stream.Header{
		Method:         "POST",
		Scheme:         c.scheme,
		Path:           path,
		Authority:      c.opts.authority,
		ContentType:    c.ct,
		UserAgent:      c.opts.userAgent,
		TE:             "trailers",
		AcceptEncoding: compression.AcceptEncoding(),
	}
	if name := co.compressor; name != "" && name != "identity" {
		if call.comp = c.opts.levels.Get(name); call.comp == nil {
			return nil, status.Newf(status.Internal, "grpc: Compressor is not installed for requested grpc-encoding %q", name)
		}
		h.Encoding = name
	}
	if co.codec != nil || co.subtype != "" {
		if err := call.chooseCodec(c.opts.codec, h); err != nil {
			return nil, err
		}
	}
	if co.authority != "" {
		h.Authority = co.authority
	}
	md, err := outgoingMetadata(ctx, h, co)
	if err != nil {
		return nil, err
	}
	if len(c.opts.forward) > 0 {
		md = forwardMetadata(ctx, md, c.opts.forward)
	}
	h.MD = md
	cc, err := c.connFor(ctx, co.waitForReady)
	if err != nil {
		return nil, err
	}
	st := &call.first
	if err := cc.NewStreamIn(ctx, st); err != nil {
		if ctx.Err() != nil {
			return nil, contextStatus(ctx.Err())
		}
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		h.Timeout = metadata.EncodeTimeout(time.Until(dl))
	}
	// The call keeps the blocks: the header for a replay (retry.go), the
	// trailer for its status and grpc.Trailer.
	st.Send.UseHeader(h)
	st.Recv.UseTrailer(&call.trailer)
	if co.maxRecvSize > 0 {
		st.Recv.SetMaxSize(co.maxRecvSize)
	}
	call.cur.Store(st)
	if ctx.Done() != nil {
		call.watchContext()
	}
	return call, nil
}

// st returns the call's stream.
func (c *Call) st() *connection.Stream { return c.cur.Load() }

// chooseCodec applies grpc.CallContentSubtype and grpc.ForceCodec, as
// grpc-go does: a forced codec is used as it is, with its name as the
// content-subtype unless one is given; a content-subtype alone names a
// codec, which must be known.
func (call *Call) chooseCodec(connCodec method.Codec, h *stream.Header) error {
	sub, codec := call.opts.subtype, call.opts.codec
	if codec == nil {
		if sub == connCodec.Name() {
			codec = connCodec
		} else if codec = grpccompat.CodecFor(sub); codec == nil {
			return status.Newf(status.Internal, "no codec registered for content-subtype %s", sub)
		}
	}
	if sub == "" {
		sub = strings.ToLower(codec.Name())
	}
	call.codec = codec
	h.ContentType = grpccompat.ContentType(sub)
	return nil
}

// outgoingMetadata gathers the request metadata: h2grpc's and grpc-go's
// outgoing metadata of ctx and the per-RPC credentials' metadata. Anything
// invalid is refused before the call starts.
func outgoingMetadata(ctx context.Context, h *stream.Header, co *callOptions) (metadata.MD, error) {
	md, _ := metadata.FromOutgoingContext(ctx)
	if gmd, ok := grpcmd.FromOutgoingContext(ctx); ok {
		md = metadata.Join(md, metadata.MD(gmd))
	}
	for _, creds := range co.creds {
		if creds.RequireTransportSecurity() && h.Scheme != "https" {
			return nil, status.New(status.Unauthenticated, "transport: cannot send secure credentials on an insecure connection")
		}
		service, _, _ := method.ParsePath(h.Path)
		kv, err := creds.GetRequestMetadata(ctx, h.Scheme+"://"+h.Authority+"/"+service)
		if err != nil {
			if st, ok := grpccompat.FromGRPC(err).(*status.Error); ok {
				return nil, st
			}
			return nil, status.Newf(status.Unavailable, "transport: per-RPC creds failed due to error: %v", err)
		}
		for k, v := range kv {
			md = metadata.Join(md, metadata.Pairs(strings.ToLower(k), v))
		}
	}
	if err := md.Validate(); err != nil {
		return nil, status.Newf(status.Internal, "grpc: invalid outgoing metadata: %v", err)
	}
	return md, nil
}

// forwardMetadata adds to md the incoming values of keys that md does not
// set. The incoming metadata is h2grpc's or, in a grpc-go handler,
// grpc-go's; reserved keys never pass.
func forwardMetadata(ctx context.Context, md metadata.MD, keys []string) metadata.MD {
	in, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		gin, gok := grpcmd.FromIncomingContext(ctx)
		if !gok {
			return md
		}
		in = metadata.MD(gin)
	}
	copied := false
	for _, k := range keys {
		if vs := in[k]; len(vs) > 0 && len(md[k]) == 0 && !metadata.IsReserved(k) {
			if !copied {
				// md may be the caller's outgoing metadata: never change it.
				md, copied = md.Copy(), true
				if md == nil {
					md = metadata.MD{}
				}
			}
			md[k] = append([]string(nil), vs...)
		}
	}
	return md
}

// onContextDone resets the stream when the call's context ends; blocked
// sends and receives return at once.
func (c *Call) onContextDone() {
	c.st().Cancel(contextStatus(c.ctx.Err()))
}

// peerOf is the server as grpc-go's peer package describes it, with the
// TLS handshake's AuthInfo when there was one.
func peerOf(cc *connection.Conn) peer.Peer {
	p := peer.Peer{Addr: cc.RemoteAddr(), LocalAddr: cc.LocalAddr()}
	p.AuthInfo, _ = cc.Info().(credentials.AuthInfo)
	return p
}

func contextStatus(err error) *status.Error {
	if err == context.DeadlineExceeded {
		return status.New(status.DeadlineExceeded, "context deadline exceeded")
	}
	return status.New(status.Canceled, "context canceled")
}

// Context returns the call's context: the context the call was made with,
// plus the peer (peer.FromContext), ended once the call has ended, as
// grpc-go's stream context is. As in grpc-go, it commits the call to its
// stream: no transparent retry follows, so the peer it names stays true.
func (c *Call) Context() context.Context {
	c.ctxMu.Lock()
	defer c.ctxMu.Unlock()
	if c.streamCtx == nil {
		c.forgetSent()
		p := peerOf(c.st().Conn())
		ctx := peer.NewContext(c.ctx, &p)
		c.streamCtx, c.cancelCtx = context.WithCancel(ctx)
		if c.ended {
			c.cancelCtx()
		}
	}
	return c.streamCtx
}

// SendMsg sends m as the next request message, with the request headers if
// they have not been sent. It blocks while the server's flow-control window
// is closed. For a method whose requests do not stream, m is the request
// and leaves with END_STREAM. When the call has ended it returns io.EOF
// (nil for a single request, as grpc-go); RecvMsg then tells the status.
func (c *Call) SendMsg(m any) error {
	return grpccompat.Wrap(c.send(m, !c.clientStreams))
}

func (c *Call) send(m any, last bool) error {
	if c.sendClosed() {
		return status.New(status.Internal, "SendMsg called after CloseSend")
	}
	if c.ctxEnded() {
		if !c.clientStreams {
			return nil // as a failed send below: RecvMsg tells the status
		}
		return io.EOF
	}
	comp := c.comp
	if c.noCompress {
		comp = nil
	}
	buf, compressed, err := stream.Marshal(c.codec, comp, c.compressMin, m)
	if err != nil {
		return err
	}
	data := buf.B
	if len(data) > c.opts.maxSendSize {
		buf.Release()
		// As in grpc-go, the whole call ends: RecvMsg reports it too.
		err := status.Newf(status.ResourceExhausted,
			"trying to send message larger than max (%d vs. %d)", len(data), c.opts.maxSendSize)
		c.st().Cancel(err)
		return err
	}
	st, kept := c.keep(buf, compressed, last)
	if last {
		err = st.Send.SendLast(data, compressed, nil)
	} else {
		err = st.Send.Send(data, compressed)
	}
	c.sent(kept, &buf)
	if err != nil && c.retry(st) {
		err = nil // replayed on the new stream
	}
	if err != nil {
		if !c.clientStreams {
			// As grpc-go: the single request's send reports nothing, so
			// generated code goes on to RecvMsg, which tells the status.
			return nil
		}
		return io.EOF
	}
	return nil
}

// SetMessageCompression turns compression of the following requests off
// (flag 0) or back on, on a call that has an encoding (grpc.UseCompressor);
// the encoding itself stays. Call it from the sending goroutine.
// Compressing per message is what gRPC's compression.md allows and the
// interop tests' client_compressed_streaming asks.
func (c *Call) SetMessageCompression(on bool) { c.noCompress = !on }

// RecvCompressed reports whether the last response RecvMsg returned arrived
// compressed (its flag was 1). Call it from the receiving goroutine.
func (c *Call) RecvCompressed() bool { return c.recvCompressed }

// SendHeader sends the request headers now instead of with the first
// message, for a call whose server may speak before the client does. If the
// call has already ended it returns its status.
func (c *Call) SendHeader() error {
	st := c.markSent(false)
	if err := st.Send.SendHeader(); err != nil && !c.retry(st) {
		// The receiving side owns the call's end; RecvMsg reports it too.
		return grpccompat.Wrap(status.Convert(err))
	}
	return nil
}

// CloseSend tells the server no more messages will be sent. It does
// nothing once the requests have ended.
func (c *Call) CloseSend() error {
	if c.sendClosed() || c.ctxEnded() {
		return nil
	}
	st := c.markSent(true)
	if err := st.Send.Close(nil); err != nil {
		c.retry(st)
	}
	return nil
}

// RecvMsg receives the next response message into m. When the call ends it
// returns io.EOF for OK, else the status as an error. For a method whose
// responses do not stream, it returns the response only once the status
// has arrived too, and io.EOF after that, as grpc-go does.
func (c *Call) RecvMsg(m any) error {
	if !c.serverStreams && !c.done {
		return c.recvOne(m)
	}
	return c.recvMsg(m)
}

func (c *Call) recvMsg(m any) error {
	if c.done {
		return c.endErr()
	}
	msg, err, herr := c.next()
	if herr != nil {
		return c.fail(herr)
	}
	if err != nil {
		c.finish(err)
		return c.endErr()
	}
	return c.decode(msg, m)
}

// next receives the next response message on the call's stream, following
// a transparent retry when the stream was refused, and checks the response
// header the first time: a bad header (herr) fails the call, whatever the
// message.
func (c *Call) next() (msg stream.Message, err, herr error) {
	st := c.st()
	msg, err = st.Recv.Recv()
	for err != nil && err != io.EOF && c.retry(st) {
		st = c.st()
		msg, err = st.Recv.Recv()
	}
	if herr = c.checkHeaderOnce(st); herr != nil {
		msg.Release()
	}
	return msg, err, herr
}

// recvOne receives the single response of a unary or client-streaming
// call and waits for its status: zero or several responses end the call
// with UNIMPLEMENTED, as the gRPC conformance suite expects.
func (c *Call) recvOne(m any) error {
	if c.done {
		return c.endErr()
	}
	msg, err, herr := c.next()
	if herr != nil {
		return c.fail(herr)
	}
	if err == io.EOF {
		st := c.statusFromTrailer()
		if st == nil {
			st = status.New(status.Unimplemented, "grpc: server sent no response message for a single-response method")
		}
		c.end(st)
		return c.err
	}
	if err != nil {
		c.finish(err)
		return c.err
	}
	if err := c.decode(msg, m); err != nil {
		return err
	}
	if msg, err = c.st().Recv.Recv(); err == nil {
		msg.Release()
		return c.fail(status.New(status.Unimplemented, "grpc: server sent more than one response message for a single-response method"))
	}
	c.finish(err)
	return c.err
}

// decode unmarshals msg into m and releases it; a message that cannot be
// decoded ends the call.
func (c *Call) decode(msg stream.Message, m any) error {
	c.recvCompressed = msg.Compressed
	if err := stream.Unmarshal(msg, c.codec, c.dcomp, c.st().Recv.MaxSize(), m); err != nil {
		return c.fail(err)
	}
	return nil
}

// checkHeaderOnce checks the response header the first time a receive
// returns. It is checked after Recv, when it has arrived anyway (it comes
// first): waiting for it separately would park and wake the receiving
// goroutine once more per call.
func (c *Call) checkHeaderOnce(st *connection.Stream) error {
	if c.checked == st {
		return nil
	}
	c.checked = st
	return c.checkHeader(st)
}

// checkHeader refuses a response that is not gRPC, mapping its HTTP status
// as the spec says.
func (c *Call) checkHeader(st *connection.Stream) error {
	h, _ := st.Recv.Header()
	if h == nil {
		return nil // trailers-only or reset: the status comes from the end
	}
	// The server has seen the call: nothing sent so far needs keeping.
	c.forgetSent()
	if h.Status != 200 {
		return httpStatusError(h.Status)
	}
	if h.Invalid != "" {
		// A malformed -bin value, say: grpc-go fails the call too.
		return status.New(status.Internal, h.Invalid)
	}
	if !isGRPCContentType(h.ContentType) {
		return status.Newf(status.Unknown, "unexpected content-type %q in response", h.ContentType)
	}
	if h.Encoding != "" && h.Encoding != "identity" {
		if c.dcomp = compression.Get(h.Encoding); c.dcomp == nil {
			return status.Newf(status.Internal, "grpc: response uses unsupported grpc-encoding %q", h.Encoding)
		}
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

// fail ends the call with err, resetting the stream, and returns the
// call's status.
func (c *Call) fail(err error) error {
	if !c.done {
		c.st().Cancel(err)
		c.finish(err)
	}
	return c.endErr()
}

// finish ends the call with the status that how the receive side ended
// gives: the trailers' for io.EOF, else the error's. Ending releases the
// stream and fills in what the call options asked for.
func (c *Call) finish(recvErr error) {
	if recvErr == io.EOF {
		c.end(c.statusFromTrailer())
		return
	}
	c.end(c.failureStatus(recvErr))
}

// failureStatus is the call's status for a stream that failed with err.
func (c *Call) failureStatus(err error) *status.Error {
	if cerr := c.ctx.Err(); cerr != nil {
		// The stream failed as the context ended (a retry it cut short,
		// say): the context's end is the call's status, as in grpc-go.
		return contextStatus(cerr)
	}
	st := status.Convert(err)
	if st.Code() == status.Canceled {
		// A reset after our deadline passed was most likely caused by it
		// (the server enforces it with RST_STREAM(CANCEL)), even if the
		// context's timer has not fired yet: report it as the deadline,
		// as grpc-go does.
		if dl, ok := c.ctx.Deadline(); ok && !time.Now().Before(dl) {
			return contextStatus(context.DeadlineExceeded)
		}
	}
	return st
}

// ctxEnded ends the stream at once if the call's context has ended, and
// reports whether it had: the context's callback, which does the same, may
// not have run yet, and nothing may be sent for a cancelled call (an
// END_STREAM would let the server complete it).
func (c *Call) ctxEnded() bool {
	err := c.ctx.Err()
	if err == nil {
		return false
	}
	c.st().Cancel(contextStatus(err))
	return true
}

// end ends the call with status st (nil for OK).
func (c *Call) end(st *status.Error) {
	if c.done {
		return
	}
	c.done = true
	if st != nil {
		c.err = grpccompat.Wrap(st)
	}
	// First, so that the sender cannot start a retry (which registers
	// with the context again and replaces the stream) from here on.
	c.forgetSent()
	if c.watch != nil {
		c.releaseWatch(c.unwatchContext())
	}
	c.st().Finish()
	c.ctxMu.Lock()
	c.ended = true
	if c.cancelCtx != nil {
		c.cancelCtx()
	}
	c.ctxMu.Unlock()
	c.fillOptions()
}

// statusFromTrailer reads the status from the trailers, or from the HTTP
// status when the response carries none (SPEC.md "Responses"); nil is OK.
func (c *Call) statusFromTrailer() *status.Error {
	tr := c.st().Recv.Trailer()
	if tr == nil {
		if h, _ := c.st().Recv.Header(); h != nil && h.Status != 200 {
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
