package connection

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2grpc/h2grpc/stream"
)

// Defaults for Config. They favour throughput on fast links while bounding
// what one peer can make us hold: a stream buffers at most
// DefaultStreamWindow of unread DATA plus one message. The stream window
// lets a sender keep several 1 MiB messages in flight while the receiver
// decodes one: with 1 MiB a sender of 1 MiB messages waited for credit
// after each, and a server stream of them reached 0.9-1.1x grpc-go's
// throughput here, 1.3-1.5x with 4 MiB, no more with 8 (grpc-go grows its
// windows up to 16 MiB by estimating the bandwidth-delay product).
const (
	DefaultMaxConcurrentStreams = 1000
	DefaultStreamWindow         = 4 << 20  // 4 MiB per stream
	DefaultConnWindow           = 16 << 20 // 16 MiB per connection
	DefaultMaxFrameSize         = 16 << 10 // the HTTP/2 minimum; peers rarely send larger
	DefaultMaxHeaderListSize    = 1 << 20  // as net/http's DefaultMaxHeaderBytes
	DefaultWriteBufferSize      = 64 << 10
	DefaultReadBufferSize       = 64 << 10
	DefaultMaxControlFrames     = 1000 // queued PING/SETTINGS ACKs and resets before the peer counts as flooding
	DefaultMaxEmptyDataFrames   = 100  // empty DATA frames in a row before the peer counts as flooding
)

// Config sets a connection's limits. The zero value of a field means its
// default.
type Config struct {
	// MaxConcurrentStreams is how many streams the peer may open at once
	// (SETTINGS_MAX_CONCURRENT_STREAMS). Extra streams get REFUSED_STREAM.
	MaxConcurrentStreams uint32
	// StreamWindow is the receive window of each stream
	// (SETTINGS_INITIAL_WINDOW_SIZE).
	StreamWindow int32
	// ConnWindow is the connection's receive window.
	ConnWindow int32
	// MaxFrameSize is the largest frame payload the peer may send.
	MaxFrameSize uint32
	// MaxHeaderListSize bounds a received header block, decoded.
	MaxHeaderListSize uint32
	// MaxRecvMsgSize is the default receive size limit of a stream's
	// messages; 0 means stream.DefaultMaxRecvSize.
	MaxRecvMsgSize int
	// WriteBufferSize and ReadBufferSize size the socket buffers. They
	// come from a pool and are held only while there is something to
	// write or parse (on TCP and Unix sockets; other connections keep
	// their read buffer), so an idle connection holds neither.
	WriteBufferSize int
	ReadBufferSize  int
	// MaxControlFrames bounds queued control frames; a peer that makes us
	// queue more (a PING or SETTINGS flood) is disconnected with
	// ENHANCE_YOUR_CALM.
	MaxControlFrames int
	// MaxEmptyDataFrames bounds the DATA frames without payload and
	// without END_STREAM a peer may send in a row (CVE-2019-9518): each
	// costs a frame's work and carries nothing, and no gRPC peer sends
	// more than one. Past it the connection ends with
	// GOAWAY(ENHANCE_YOUR_CALM). Netty allows 10; we allow more, for
	// peers that flush an empty frame per write.
	MaxEmptyDataFrames int
	// HandshakeTimeout bounds how long the peer has to send its preface
	// (a client's magic) and first SETTINGS, so a peer that connects and
	// stays silent cannot hold the connection. Zero means no bound.
	HandshakeTimeout time.Duration
	// MinPingInterval is the server's keepalive enforcement (gRFC A8): a
	// client PING sooner than this after the previous one, with no
	// response written in between, is a strike (on a connection without
	// streams, sooner than two hours, unless PingWithoutStreams); past two
	// strikes the connection ends with GOAWAY(ENHANCE_YOUR_CALM,
	// "too_many_pings"). Zero enforces nothing.
	MinPingInterval    time.Duration
	PingWithoutStreams bool
}

func (c Config) withDefaults() Config {
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if c.StreamWindow <= 0 {
		c.StreamWindow = DefaultStreamWindow
	}
	if c.ConnWindow <= 0 {
		c.ConnWindow = DefaultConnWindow
	}
	if c.ConnWindow < initialWindow {
		c.ConnWindow = initialWindow
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	c.MaxFrameSize = min(max(c.MaxFrameSize, 1<<14), 1<<24-1)
	if c.MaxHeaderListSize == 0 {
		c.MaxHeaderListSize = DefaultMaxHeaderListSize
	}
	if c.MaxRecvMsgSize <= 0 {
		c.MaxRecvMsgSize = stream.DefaultMaxRecvSize
	}
	if c.WriteBufferSize <= 0 {
		c.WriteBufferSize = DefaultWriteBufferSize
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	if c.MaxControlFrames <= 0 {
		c.MaxControlFrames = DefaultMaxControlFrames
	}
	if c.MaxEmptyDataFrames <= 0 {
		c.MaxEmptyDataFrames = DefaultMaxEmptyDataFrames
	}
	return c
}

// Connections share their Config: a server's connections all have the
// same, and a copy in each would cost every connection its size. Up to
// maxInterned configurations are kept for the life of the process; past
// that (a program making a configuration per connection), each connection
// gets its own copy.
var (
	interned    sync.Map // Config -> *Config
	internedLen atomic.Int32
)

const maxInterned = 64

func internConfig(cfg Config) *Config {
	if p, ok := interned.Load(cfg); ok {
		return p.(*Config)
	}
	if internedLen.Load() >= maxInterned {
		return &cfg
	}
	p, loaded := interned.LoadOrStore(cfg, &cfg)
	if !loaded {
		internedLen.Add(1)
	}
	return p.(*Config)
}

// monoBase and monoNow give times as integers (8 bytes in a struct where a
// time.Time takes 24), on the monotonic clock.
var monoBase = time.Now()

// monoNow returns the time since monoBase, at least 1: 0 can mean never.
func monoNow() int64 { return int64(time.Since(monoBase)) + 1 }
