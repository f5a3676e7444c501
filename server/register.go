package server

import (
	"context"

	"github.com/h2grpc/h2grpc/method"
)

// RegisterUnary registers h for the unary method at path
// ("/pkg.Service/Method").
func RegisterUnary[Req, Resp any](s *Server, path string, h func(context.Context, *Req) (*Resp, error)) {
	s.Handle(mustPath(path, method.Unary), func(c *Call) error {
		req := new(Req)
		if err := c.recvOne(req); err != nil {
			return err
		}
		resp, err := h(c.ctx, req)
		if err != nil {
			return err
		}
		return c.sendLast(resp)
	})
}

// RegisterServerStream registers h for the server-streaming method at path.
func RegisterServerStream[Req, Resp any](s *Server, path string, h func(*Req, *ServerStream[Resp]) error) {
	s.Handle(mustPath(path, method.ServerStreaming), func(c *Call) error {
		req := new(Req)
		if err := c.recvOne(req); err != nil {
			return err
		}
		return h(req, &ServerStream[Resp]{c})
	})
}

// RegisterClientStream registers h for the client-streaming method at path.
func RegisterClientStream[Req, Resp any](s *Server, path string, h func(*ClientStream[Req]) (*Resp, error)) {
	s.Handle(mustPath(path, method.ClientStreaming), func(c *Call) error {
		resp, err := h(&ClientStream[Req]{c})
		if err != nil {
			return err
		}
		return c.sendLast(resp)
	})
}

// RegisterBidiStream registers h for the bidirectional-streaming method at
// path.
func RegisterBidiStream[Req, Resp any](s *Server, path string, h func(*BidiStream[Req, Resp]) error) {
	s.Handle(mustPath(path, method.BidiStreaming), func(c *Call) error {
		return h(&BidiStream[Req, Resp]{c})
	})
}

func mustPath(path string, t method.Type) method.Desc {
	d, err := method.FromPath(path, t)
	if err != nil {
		panic("h2grpc: " + err.Error())
	}
	return d
}

// ServerStream is the response stream of a server-streaming handler.
type ServerStream[Resp any] struct{ *Call }

// Send sends one response message.
func (s *ServerStream[Resp]) Send(m *Resp) error { return s.SendMsg(m) }

// ClientStream is the request stream of a client-streaming handler.
type ClientStream[Req any] struct{ *Call }

// Recv returns the next request message, or io.EOF when the client has
// finished sending.
func (s *ClientStream[Req]) Recv() (*Req, error) {
	m := new(Req)
	if err := s.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}

// BidiStream is both streams of a bidirectional-streaming handler.
type BidiStream[Req, Resp any] struct{ *Call }

// Send sends one response message.
func (s *BidiStream[Req, Resp]) Send(m *Resp) error { return s.SendMsg(m) }

// Recv returns the next request message, or io.EOF when the client has
// finished sending.
func (s *BidiStream[Req, Resp]) Recv() (*Req, error) {
	m := new(Req)
	if err := s.RecvMsg(m); err != nil {
		return nil, err
	}
	return m, nil
}
