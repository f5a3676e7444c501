package server

import (
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/method"
)

// Option configures a Server. Names follow grpc-go's ServerOptions where
// the meaning is the same.
type Option interface {
	apply(*options)
}

type options struct {
	conn        connection.Config
	codec       method.Codec
	maxSendSize int
	levels      compression.Levels               // compression level per algorithm
	compressMin int                              // messages shorter go uncompressed
	forward     []string                         // request metadata keys handlers pass on
	creds       credentials.TransportCredentials // nil: h2c
	connTimeout time.Duration                    // bounds the handshake; 0: none
	keepalive   KeepaliveParameters              // with its defaults filled in

	unaryInt    grpc.UnaryServerInterceptor // the whole chain, set by New
	streamInt   grpc.StreamServerInterceptor
	unaryChain  []grpc.UnaryServerInterceptor
	streamChain []grpc.StreamServerInterceptor
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

func defaultOptions() options {
	o := options{codec: method.Proto, maxSendSize: 1<<31 - 1, connTimeout: defaultConnectionTimeout}
	o.keepalive = KeepaliveParameters{}.withDefaults()
	o.conn.HandshakeTimeout = defaultConnectionTimeout
	o.conn.MinPingInterval = DefaultEnforcementPolicy.MinTime
	return o
}

// EnforcementPolicy is how often clients may send keepalive pings (gRFC
// A8), as grpc-go's keepalive.EnforcementPolicy: a ping sooner than
// MinTime after the previous one while the server sent nothing, or any
// ping on a connection without calls unless PermitWithoutStream (then one
// per two hours), is a strike; the third strike ends the connection with
// GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings"), on which clients back off.
type EnforcementPolicy struct {
	MinTime             time.Duration
	PermitWithoutStream bool
}

// DefaultEnforcementPolicy is grpc-go's: a ping per 5 minutes, only while
// calls are open.
var DefaultEnforcementPolicy = EnforcementPolicy{MinTime: 5 * time.Minute}

// KeepaliveEnforcementPolicy replaces DefaultEnforcementPolicy; a zero
// MinTime enforces nothing.
func KeepaliveEnforcementPolicy(p EnforcementPolicy) Option {
	return optionFunc(func(o *options) {
		o.conn.MinPingInterval = p.MinTime
		o.conn.PingWithoutStreams = p.PermitWithoutStream
	})
}

// defaultConnectionTimeout is grpc-go's: generous for a slow link, yet a
// client that connects and never finishes its handshake cannot hold its
// goroutine and socket forever.
const defaultConnectionTimeout = 120 * time.Second

// ConnectionTimeout bounds the handshakes of each new connection, as
// grpc-go's ConnectionTimeout does: the TLS handshake (with TLS or Creds),
// then, again, the HTTP/2 preface and first SETTINGS (default 120s). A
// client that has not finished in time, or connects and says nothing, is
// disconnected. Zero or less means no limit.
func ConnectionTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) {
		o.connTimeout = max(d, 0)
		o.conn.HandshakeTimeout = o.connTimeout
	})
}

// MaxConcurrentStreams limits the streams each client connection may have
// open at once (default connection.DefaultMaxConcurrentStreams).
func MaxConcurrentStreams(n uint32) Option {
	return optionFunc(func(o *options) { o.conn.MaxConcurrentStreams = n })
}

// MaxRecvMsgSize limits the size of a received message, after
// decompression (default 4 MiB). Larger messages end the call with
// RESOURCE_EXHAUSTED.
func MaxRecvMsgSize(n int) Option {
	return optionFunc(func(o *options) { o.conn.MaxRecvMsgSize = n })
}

// CompressionLevel sets the level the server compresses responses with in
// the named algorithm, as compression.WithLevel numbers them: for gzip
// and deflate compress/flate's levels (-2 to 9; 1 fastest, 9 smallest, 0
// stored), for zstd 1 to 4 (fastest to smallest); snappy has only 0. It
// panics on an unknown algorithm or a level out of range, a mistake in the
// program.
func CompressionLevel(name string, level int) Option {
	return optionFunc(func(o *options) {
		var err error
		if o.levels, err = o.levels.With(name, level); err != nil {
			panic("h2grpc: server.CompressionLevel: " + err.Error())
		}
	})
}

// ForwardMetadata makes the request's values of keys — a request id, a
// trace header — the outgoing metadata of each handler's context, so every
// call the handler makes with that context passes them on, from h2grpc's
// client or grpc-go's, as nameko-grpc passes on its context data. It is as
// if each handler began with grpc-go's metadata.NewOutgoingContext: the
// handler's own AppendToOutgoingContext adds to the values, its own
// NewOutgoingContext replaces them. The deadline needs no option: such
// calls carry what remains of it. Reserved (grpc-*) keys never reach
// handlers' metadata, so they cannot pass.
func ForwardMetadata(keys ...string) Option {
	return optionFunc(func(o *options) {
		for _, k := range keys {
			o.forward = append(o.forward, strings.ToLower(k))
		}
	})
}

// CompressionThreshold makes the server send responses shorter than n
// bytes uncompressed (flag 0) on a compressed call: compressing a few
// bytes costs CPU and usually makes them longer. The default, 0, compresses
// every non-empty message.
func CompressionThreshold(n int) Option {
	return optionFunc(func(o *options) { o.compressMin = n })
}

// MaxSendMsgSize limits the size of a sent message (default 2 GiB - 1).
func MaxSendMsgSize(n int) Option {
	return optionFunc(func(o *options) { o.maxSendSize = n })
}

// InitialWindowSize sets each stream's receive window (default
// connection.DefaultStreamWindow).
func InitialWindowSize(n int32) Option {
	return optionFunc(func(o *options) { o.conn.StreamWindow = n })
}

// InitialConnWindowSize sets each connection's receive window (default
// connection.DefaultConnWindow).
func InitialConnWindowSize(n int32) Option {
	return optionFunc(func(o *options) { o.conn.ConnWindow = n })
}

// MaxHeaderListSize bounds a received header block (default
// connection.DefaultMaxHeaderListSize).
func MaxHeaderListSize(n uint32) Option {
	return optionFunc(func(o *options) { o.conn.MaxHeaderListSize = n })
}

// WriteBufferSize sets the size of each connection's write buffer.
func WriteBufferSize(n int) Option {
	return optionFunc(func(o *options) { o.conn.WriteBufferSize = n })
}

// ReadBufferSize sets the size of each connection's read buffer.
func ReadBufferSize(n int) Option {
	return optionFunc(func(o *options) { o.conn.ReadBufferSize = n })
}

// Codec replaces the protobuf codec for every call.
func Codec(c method.Codec) Option {
	return optionFunc(func(o *options) { o.codec = c })
}

// UnaryInterceptor installs the unary interceptor, run before any added
// with ChainUnaryInterceptor. As in grpc-go, it may be set once.
func UnaryInterceptor(i grpc.UnaryServerInterceptor) Option {
	return optionFunc(func(o *options) {
		if o.unaryInt != nil {
			panic("h2grpc: the unary server interceptor was already set and may not be reset")
		}
		o.unaryInt = i
	})
}

// StreamInterceptor installs the stream interceptor, run before any added
// with ChainStreamInterceptor. As in grpc-go, it may be set once.
func StreamInterceptor(i grpc.StreamServerInterceptor) Option {
	return optionFunc(func(o *options) {
		if o.streamInt != nil {
			panic("h2grpc: the stream server interceptor was already set and may not be reset")
		}
		o.streamInt = i
	})
}

// ChainUnaryInterceptor adds unary interceptors; the first is the
// outermost, as in grpc-go.
func ChainUnaryInterceptor(is ...grpc.UnaryServerInterceptor) Option {
	return optionFunc(func(o *options) { o.unaryChain = append(o.unaryChain, is...) })
}

// ChainStreamInterceptor adds stream interceptors; the first is the
// outermost, as in grpc-go.
func ChainStreamInterceptor(is ...grpc.StreamServerInterceptor) Option {
	return optionFunc(func(o *options) { o.streamChain = append(o.streamChain, is...) })
}
