package server

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/h2grpc/h2grpc/connection"
)

// KeepaliveParameters are the server's keepalive pings (gRFC A8) and
// connection age limits (gRFC A9), as grpc-go's
// keepalive.ServerParameters. A zero field means its default.
type KeepaliveParameters struct {
	// MaxConnectionIdle closes, with a graceful GOAWAY ("max_idle"), a
	// connection that has had no call for this long. Default: never.
	MaxConnectionIdle time.Duration
	// MaxConnectionAge closes, with a graceful GOAWAY ("max_age"), a
	// connection this old, ±10% so that a fleet of clients does not
	// reconnect at once. Default: never.
	MaxConnectionAge time.Duration
	// MaxConnectionAgeGrace is how long the calls of a connection past
	// MaxConnectionAge may take to finish before they are cancelled.
	// Default: as long as they need.
	MaxConnectionAgeGrace time.Duration
	// Time is how long the client may be silent before the server pings
	// it (at least one second). Default: two hours.
	Time time.Duration
	// Timeout is how long the server waits for the ping's ACK (or any
	// frame) before it closes the connection. Default: 20 seconds.
	Timeout time.Duration
}

// Defaults of KeepaliveParameters, grpc-go's.
const (
	DefaultKeepaliveTime    = 2 * time.Hour
	DefaultKeepaliveTimeout = 20 * time.Second
)

// minKeepaliveTime is grpc-go's floor on Time: a server pinging more often
// costs its clients for nothing. A variable so tests can lower it.
var minKeepaliveTime = time.Second

// KeepaliveParams sets the server's keepalive pings and connection age
// limits, as grpc-go's KeepaliveParams.
func KeepaliveParams(p KeepaliveParameters) Option {
	return optionFunc(func(o *options) { o.keepalive = p.withDefaults() })
}

func (p KeepaliveParameters) withDefaults() KeepaliveParameters {
	if p.Time <= 0 {
		p.Time = DefaultKeepaliveTime
	}
	p.Time = max(p.Time, minKeepaliveTime)
	if p.Timeout <= 0 {
		p.Timeout = DefaultKeepaliveTimeout
	}
	return p
}

// errKeepalive ends a connection whose client did not answer a keepalive
// ping in time.
var errKeepalive = errors.New("keepalive ping not acknowledged within timeout")

// GOAWAY debug data of gRFC A9, grpc-go's.
const (
	debugMaxIdle = "max_idle"
	debugMaxAge  = "max_age"
)

// keeper runs one connection's keepalive and age limits on timers rather
// than a goroutine, so an idle connection costs three timers, not a
// stack. Each timer's state is touched only by its own callback, which
// re-arms it last, so callbacks of one timer never overlap.
type keeper struct {
	c     *connection.Conn
	p     KeepaliveParameters
	ping  *time.Timer
	idle  *time.Timer
	age   *time.Timer
	frame uint64 // under ping: Activity when the ping timer was armed
}

// startKeeper arms c's timers; stop disarms them when c has ended.
func startKeeper(c *connection.Conn, p KeepaliveParameters) *keeper {
	k := &keeper{c: c, p: p, frame: c.Activity()}
	k.ping = time.AfterFunc(p.Time, k.onPing)
	if p.MaxConnectionIdle > 0 {
		k.idle = time.AfterFunc(p.MaxConnectionIdle, k.onIdle)
	}
	if p.MaxConnectionAge > 0 {
		age := p.MaxConnectionAge
		age += time.Duration((rand.Float64()*0.2 - 0.1) * float64(age))
		k.age = time.AfterFunc(age, k.onAge)
	}
	return k
}

func (k *keeper) stop() {
	for _, t := range []*time.Timer{k.ping, k.idle, k.age} {
		if t != nil {
			t.Stop()
		}
	}
}

func (k *keeper) ended() bool {
	select {
	case <-k.c.Done():
		return true
	default:
		return false
	}
}

// onPing pings a client that has sent nothing for Time, and closes the
// connection when neither the ACK nor anything else comes within Timeout.
func (k *keeper) onPing() {
	if k.ended() {
		return
	}
	if a := k.c.Activity(); a != k.frame {
		k.frame = a
		k.ping.Reset(k.p.Time)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.p.Timeout)
	err := k.c.Ping(ctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			k.c.CloseWithError(errKeepalive)
		}
		return // the connection has ended
	}
	k.frame = k.c.Activity()
	k.ping.Reset(k.p.Time)
}

// onIdle drains a connection that has had no call for MaxConnectionIdle.
func (k *keeper) onIdle() {
	if k.ended() {
		return
	}
	idle := k.c.IdleFor()
	if idle < k.p.MaxConnectionIdle {
		// A call is open (idle 0) or ended less than MaxConnectionIdle
		// ago: look again when it could have been idle long enough.
		k.idle.Reset(k.p.MaxConnectionIdle - idle)
		return
	}
	k.c.Drain(context.Background(), debugMaxIdle)
}

// onAge drains a connection past MaxConnectionAge, cancelling the calls
// still open after MaxConnectionAgeGrace.
func (k *keeper) onAge() {
	if k.ended() {
		return
	}
	ctx := context.Background()
	if g := k.p.MaxConnectionAgeGrace; g > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g)
		defer cancel()
	}
	k.c.Drain(ctx, debugMaxAge)
}
