package client

import (
	"context"
	"net"
	"time"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/method"
)

// Option configures a Conn. Names follow grpc-go's DialOptions where the
// meaning is the same.
type Option interface {
	apply(*options)
}

type options struct {
	conn        connection.Config
	codec       method.Codec
	maxSendSize int
	userAgent   string
	authority   string
	dial        func(ctx context.Context, addr string) (net.Conn, error)
	dialTimeout time.Duration
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

func defaultOptions() options {
	return options{
		codec:       method.Proto,
		maxSendSize: 1<<31 - 1,
		userAgent:   "h2grpc-go/0.1",
		dialTimeout: 20 * time.Second,
	}
}

// MaxRecvMsgSize limits the size of a received message (default 4 MiB).
func MaxRecvMsgSize(n int) Option {
	return optionFunc(func(o *options) { o.conn.MaxRecvMsgSize = n })
}

// MaxSendMsgSize limits the size of a sent message (default 2 GiB - 1).
func MaxSendMsgSize(n int) Option {
	return optionFunc(func(o *options) { o.maxSendSize = n })
}

// InitialWindowSize sets each stream's receive window.
func InitialWindowSize(n int32) Option {
	return optionFunc(func(o *options) { o.conn.StreamWindow = n })
}

// InitialConnWindowSize sets the connection's receive window.
func InitialConnWindowSize(n int32) Option {
	return optionFunc(func(o *options) { o.conn.ConnWindow = n })
}

// MaxHeaderListSize bounds a received header block.
func MaxHeaderListSize(n uint32) Option {
	return optionFunc(func(o *options) { o.conn.MaxHeaderListSize = n })
}

// WriteBufferSize sets the size of the connection's write buffer.
func WriteBufferSize(n int) Option {
	return optionFunc(func(o *options) { o.conn.WriteBufferSize = n })
}

// ReadBufferSize sets the size of the connection's read buffer.
func ReadBufferSize(n int) Option {
	return optionFunc(func(o *options) { o.conn.ReadBufferSize = n })
}

// UserAgent sets the user-agent sent with every call.
func UserAgent(ua string) Option {
	return optionFunc(func(o *options) { o.userAgent = ua })
}

// Authority sets the :authority of every call (default: the target).
func Authority(a string) Option {
	return optionFunc(func(o *options) { o.authority = a })
}

// Dialer replaces how the connection to the target is made.
func Dialer(dial func(ctx context.Context, addr string) (net.Conn, error)) Option {
	return optionFunc(func(o *options) { o.dial = dial })
}

// DialTimeout bounds making the connection (default 20 s).
func DialTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.dialTimeout = d })
}

// Codec replaces the protobuf codec for every call.
func Codec(c method.Codec) Option {
	return optionFunc(func(o *options) { o.codec = c })
}
