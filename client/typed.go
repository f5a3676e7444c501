package client

import (
	"context"
	"io"
)

// Invoke makes a unary call: the request leaves in one write (headers,
// message and END_STREAM), and resp is filled from the single response.
func (c *Conn) Invoke(ctx context.Context, path string, req, resp any, opts ...CallOption) error {
	call, err := c.NewCall(ctx, path, opts...)
	if err != nil {
		return err
	}
	if err := call.sendLast(req); err != nil && err != io.EOF {
		call.fail(err)
		return err
	}
	return call.recvOne(resp)
}

// Unary calls the unary method at path with req and returns its response.
func Unary[Resp, Req any](ctx context.Context, c *Conn, path string, req *Req, opts ...CallOption) (*Resp, error) {
	resp := new(Resp)
	if err := c.Invoke(ctx, path, req, resp, opts...); err != nil {
		return nil, err
	}
	return resp, nil
}

// ServerStreamCall is a server-streaming call in progress.
type ServerStreamCall[Resp any] struct{ *Call }

// Recv returns the next response, io.EOF when the call ended OK, else the
// status as an error.
func (s *ServerStreamCall[Resp]) Recv() (*Resp, error) {
	m := new(Resp)
	if err := s.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// ServerStream starts a server-streaming call of the method at path with
// req; the request leaves in one write.
func ServerStream[Resp, Req any](ctx context.Context, c *Conn, path string, req *Req, opts ...CallOption) (*ServerStreamCall[Resp], error) {
	call, err := c.NewCall(ctx, path, opts...)
	if err != nil {
		return nil, err
	}
	if err := call.sendLast(req); err != nil && err != io.EOF {
		call.fail(err)
		return nil, err
	}
	return &ServerStreamCall[Resp]{call}, nil
}

// ClientStreamCall is a client-streaming call in progress.
type ClientStreamCall[Req, Resp any] struct{ *Call }

// Send sends one request message. io.EOF means the call has ended:
// CloseAndRecv tells the status.
func (s *ClientStreamCall[Req, Resp]) Send(m *Req) error { return s.SendMsg(m) }

// CloseAndRecv ends the requests and returns the single response.
func (s *ClientStreamCall[Req, Resp]) CloseAndRecv() (*Resp, error) {
	s.CloseSend()
	resp := new(Resp)
	if err := s.recvOne(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// ClientStream starts a client-streaming call of the method at path. The
// request headers leave at once, as grpc-go's do.
func ClientStream[Req, Resp any](ctx context.Context, c *Conn, path string, opts ...CallOption) (*ClientStreamCall[Req, Resp], error) {
	call, err := c.newStreamingCall(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return &ClientStreamCall[Req, Resp]{call}, nil
}

// BidiStreamCall is a bidirectional-streaming call in progress.
type BidiStreamCall[Req, Resp any] struct{ *Call }

// Send sends one request message. io.EOF means the call has ended: Recv
// tells the status.
func (s *BidiStreamCall[Req, Resp]) Send(m *Req) error { return s.SendMsg(m) }

// Recv returns the next response, io.EOF when the call ended OK, else the
// status as an error.
func (s *BidiStreamCall[Req, Resp]) Recv() (*Resp, error) {
	m := new(Resp)
	if err := s.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// BidiStream starts a bidirectional-streaming call of the method at path.
// The request headers leave at once, so a server that speaks first can.
func BidiStream[Req, Resp any](ctx context.Context, c *Conn, path string, opts ...CallOption) (*BidiStreamCall[Req, Resp], error) {
	call, err := c.newStreamingCall(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return &BidiStreamCall[Req, Resp]{call}, nil
}

// newStreamingCall starts a call whose requests stream and sends its
// headers now: the server sees the call before the first message, and a
// handler that sends first is not left waiting for a stream it never saw.
func (c *Conn) newStreamingCall(ctx context.Context, path string, opts []CallOption) (*Call, error) {
	call, err := c.NewCall(ctx, path, opts...)
	if err != nil {
		return nil, err
	}
	if err := call.SendHeader(); err != nil {
		return nil, err
	}
	return call, nil
}
