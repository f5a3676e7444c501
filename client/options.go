package client

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/method"
)

// Option configures a Conn. Where grpc-go has a DialOption with the same
// meaning, the name is grpc-go's (WithUserAgent, WithChainUnaryInterceptor,
// ...), so moving a client over is a change of package name.
type Option interface {
	apply(*options)
}

type options struct {
	conn        connection.Config
	codec       method.Codec
	userAgent   string
	authority   string
	dial        func(ctx context.Context, addr string) (net.Conn, error)
	dialTimeout time.Duration
	creds       credentials.TransportCredentials
	serverName  string // WithTLS's cfg.ServerName
	lazy        bool
	backoff     Backoff
	levels      compression.Levels // compression level per algorithm
	compressMin int                // messages shorter go uncompressed
	forward     []string           // incoming metadata keys calls pass on
	keepalive   KeepaliveParams
	callOpts    []CallOption

	unaryInt    grpc.UnaryClientInterceptor // the whole chain, set by Dial
	streamInt   grpc.StreamClientInterceptor
	unaryChain  []grpc.UnaryClientInterceptor
	streamChain []grpc.StreamClientInterceptor
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

func defaultOptions() options {
	return options{
		codec:       method.Proto,
		userAgent:   "h2grpc-go/0.1",
		dialTimeout: 20 * time.Second,
		backoff:     DefaultBackoff,
	}
}

// WithDefaultCallOptions sets call options every call of the Conn starts
// with (grpc.MaxCallRecvMsgSize, grpc.UseCompressor, ...); a call's own
// options come after them and win.
func WithDefaultCallOptions(opts ...CallOption) Option {
	return optionFunc(func(o *options) { o.callOpts = append(o.callOpts, opts...) })
}

// WithInitialWindowSize sets each stream's receive window.
func WithInitialWindowSize(n int32) Option {
	return optionFunc(func(o *options) { o.conn.StreamWindow = n })
}

// WithInitialConnWindowSize sets the connection's receive window.
func WithInitialConnWindowSize(n int32) Option {
	return optionFunc(func(o *options) { o.conn.ConnWindow = n })
}

// WithMaxHeaderListSize bounds a received header block.
func WithMaxHeaderListSize(n uint32) Option {
	return optionFunc(func(o *options) { o.conn.MaxHeaderListSize = n })
}

// WithWriteBufferSize sets the size of the connection's write buffer.
func WithWriteBufferSize(n int) Option {
	return optionFunc(func(o *options) { o.conn.WriteBufferSize = n })
}

// WithReadBufferSize sets the size of the connection's read buffer.
func WithReadBufferSize(n int) Option {
	return optionFunc(func(o *options) { o.conn.ReadBufferSize = n })
}

// WithUserAgent sets the user-agent sent with every call.
func WithUserAgent(ua string) Option {
	return optionFunc(func(o *options) { o.userAgent = ua })
}

// WithAuthority sets the :authority of every call (default: the target).
func WithAuthority(a string) Option {
	return optionFunc(func(o *options) { o.authority = a })
}

// WithContextDialer replaces how the connection to the target is made.
func WithContextDialer(dial func(ctx context.Context, addr string) (net.Conn, error)) Option {
	return optionFunc(func(o *options) { o.dial = dial })
}

// WithPerRPCCredentials attaches creds' metadata to every call, as the
// call option grpc.PerRPCCredentials does for one.
func WithPerRPCCredentials(creds credentials.PerRPCCredentials) Option {
	return WithDefaultCallOptions(grpc.PerRPCCredentials(creds))
}

// WithUnaryInterceptor installs the unary interceptor, run before any
// added with WithChainUnaryInterceptor. Its *grpc.ClientConn argument is
// nil: grpc-go's type cannot be made outside grpc-go.
func WithUnaryInterceptor(i grpc.UnaryClientInterceptor) Option {
	return optionFunc(func(o *options) { o.unaryInt = i })
}

// WithStreamInterceptor installs the stream interceptor, run before any
// added with WithChainStreamInterceptor. Its *grpc.ClientConn argument is
// nil.
func WithStreamInterceptor(i grpc.StreamClientInterceptor) Option {
	return optionFunc(func(o *options) { o.streamInt = i })
}

// WithChainUnaryInterceptor adds unary interceptors; the first is the
// outermost, as in grpc-go.
func WithChainUnaryInterceptor(is ...grpc.UnaryClientInterceptor) Option {
	return optionFunc(func(o *options) { o.unaryChain = append(o.unaryChain, is...) })
}

// WithChainStreamInterceptor adds stream interceptors; the first is the
// outermost, as in grpc-go.
func WithChainStreamInterceptor(is ...grpc.StreamClientInterceptor) Option {
	return optionFunc(func(o *options) { o.streamChain = append(o.streamChain, is...) })
}

// DialTimeout bounds making a connection (default 20 s).
func DialTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.dialTimeout = d })
}

// Codec replaces the protobuf codec as the default of every call; its Name
// is the content-subtype sent. grpc.CallContentSubtype and grpc.ForceCodec
// choose another per call.
func Codec(c method.Codec) Option {
	return optionFunc(func(o *options) { o.codec = c })
}

// WithTransportCredentials secures the connection with creds, grpc-go's
// credentials.NewTLS(cfg) for instance: calls go out with :scheme https
// (when creds are TLS) and handlers find the handshake's AuthInfo in their
// peer. A TLS server must agree to HTTP/2 with ALPN.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return optionFunc(func(o *options) { o.creds, o.serverName = creds, "" })
}

// WithTLS is WithTransportCredentials(credentials.NewTLS(cfg)): TLS with
// ALPN h2. The name verified is the authority: cfg.ServerName when set and
// WithAuthority is not given, else WithAuthority's or the target's host.
func WithTLS(cfg *tls.Config) Option {
	creds := credentials.NewTLS(cfg)
	return optionFunc(func(o *options) {
		o.creds, o.serverName = creds, ""
		if cfg != nil {
			o.serverName = cfg.ServerName
		}
	})
}

// WithLazyConnect makes Dial return at once, without connecting: the first
// call connects, as grpc-go's NewClient does.
func WithLazyConnect() Option {
	return optionFunc(func(o *options) { o.lazy = true })
}

// Backoff is how long a Conn waits between failed attempts to connect:
// BaseDelay after the first failure, then Multiplier times longer after
// each, at most MaxDelay, each wait spread by ±Jitter (a fraction) so
// clients that lost the same server do not come back at once.
type Backoff struct {
	BaseDelay  time.Duration
	Multiplier float64
	Jitter     float64
	MaxDelay   time.Duration
}

// DefaultBackoff is gRPC's connection backoff (doc/connection-backoff.md).
var DefaultBackoff = Backoff{
	BaseDelay:  time.Second,
	Multiplier: 1.6,
	Jitter:     0.2,
	MaxDelay:   120 * time.Second,
}

// WithBackoff replaces DefaultBackoff, as grpc.WithConnectParams does.
// A zero BaseDelay, Multiplier or MaxDelay takes DefaultBackoff's value
// (a zero Jitter stays: no jitter), a Multiplier below 1 counts as 1 and a
// MaxDelay below BaseDelay as BaseDelay: a Conn never redials in a tight
// loop.
func WithBackoff(b Backoff) Option {
	return optionFunc(func(o *options) { o.backoff = b })
}

// WithCompressionLevel sets the level requests are compressed with in the
// named algorithm, as compression.WithLevel numbers them: for gzip and
// deflate compress/flate's levels (-2 to 9; 1 fastest, 9 smallest, 0
// stored), for zstd 1 to 4 (fastest to smallest); snappy has only 0. The
// algorithm itself is chosen per Conn with
// WithDefaultCallOptions(grpc.UseCompressor(name)) and per call with
// grpc.UseCompressor. It panics on an unknown algorithm or a level out of
// range, a mistake in the program.
func WithCompressionLevel(name string, level int) Option {
	return optionFunc(func(o *options) {
		var err error
		if o.levels, err = o.levels.With(name, level); err != nil {
			panic("h2grpc: client.WithCompressionLevel: " + err.Error())
		}
	})
}

// WithCompressionThreshold sends requests shorter than n bytes
// uncompressed (flag 0) on a compressed call: compressing a few bytes
// costs CPU and usually makes them longer. The default, 0, compresses
// every non-empty message.
func WithCompressionThreshold(n int) Option {
	return optionFunc(func(o *options) { o.compressMin = n })
}

// WithForwardedMetadata makes every call made with a handler's context
// (one that carries incoming metadata: an h2grpc or grpc-go server's) pass
// on the incoming values of keys — a request id, a trace header — unless
// the call sets the key itself, as nameko-grpc passes on its context data.
// The deadline needs no option: a call made with a handler's context
// carries what remains of the handler's deadline. server.ForwardMetadata
// does the same from the server's side, for any client.
func WithForwardedMetadata(keys ...string) Option {
	return optionFunc(func(o *options) {
		for _, k := range keys {
			o.forward = append(o.forward, strings.ToLower(k))
		}
	})
}

// sane fills what b leaves out from DefaultBackoff and keeps the delays
// from shrinking.
func (b Backoff) sane() Backoff {
	if b.BaseDelay <= 0 {
		b.BaseDelay = DefaultBackoff.BaseDelay
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	b.Multiplier = max(b.Multiplier, 1)
	if b.MaxDelay <= 0 {
		b.MaxDelay = DefaultBackoff.MaxDelay
	}
	b.MaxDelay = max(b.MaxDelay, b.BaseDelay)
	b.Jitter = min(max(b.Jitter, 0), 1)
	return b
}

// KeepaliveParams are a Conn's keepalive (gRFC A8), as grpc-go's
// keepalive.ClientParameters: after Time without any frame from the
// server, the Conn sends a PING; if neither its ACK nor any other frame
// arrives within Timeout (default 20 s), the server is taken for dead:
// the connection is closed, its calls end with UNAVAILABLE and the next
// call connects again. Without PermitWithoutStream a connection with no
// call open is not pinged. Servers refuse pings more frequent than they
// allow (grpc-go: 5 minutes by default) with GOAWAY "too_many_pings".
type KeepaliveParams struct {
	Time                time.Duration
	Timeout             time.Duration
	PermitWithoutStream bool
}

// WithKeepalive turns keepalive pings on; a zero Time leaves them off.
func WithKeepalive(p KeepaliveParams) Option {
	return optionFunc(func(o *options) {
		if p.Timeout <= 0 {
			p.Timeout = 20 * time.Second
		}
		o.keepalive = p
	})
}
