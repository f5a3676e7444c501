package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/connection"
	"github.com/h2grpc/h2grpc/method"
	"github.com/h2grpc/h2grpc/status"
)

// ErrServerStopped is returned by Serve once the server has been stopped.
var ErrServerStopped = errors.New("h2grpc: the server has been stopped")

// Server serves gRPC calls over HTTP/2: prior-knowledge h2c, or TLS with
// the TLS or Creds option. Register handlers before calling Serve; all
// methods are safe for concurrent use.
type Server struct {
	opts options

	mu        sync.Mutex
	handlers  map[string]*handler
	services  map[string]bool
	info      map[string]grpc.ServiceInfo // services from RegisterService
	listeners map[net.Listener]struct{}
	accepted  map[net.Conn]struct{} // in their handshake: closed by stop
	conns     map[*connection.Conn]struct{}
	stopped   bool
	connWG    sync.WaitGroup // connection goroutines
	callWG    sync.WaitGroup // calls being handled

	// Handler goroutines (handle.go): an idle one takes the next stream
	// from work; quit, closed once the server stops, ends the idle ones.
	work        chan *connection.Stream
	quit        chan struct{}
	quitOnce    sync.Once
	idleWorkers atomic.Int32
	workerWG    sync.WaitGroup
}

// handler is one registered method.
type handler struct {
	desc method.Desc
	run  func(*Call) error
}

// New returns a server with the given options.
func New(opts ...Option) *Server {
	s := &Server{
		opts:      defaultOptions(),
		handlers:  map[string]*handler{},
		services:  map[string]bool{},
		listeners: map[net.Listener]struct{}{},
		accepted:  map[net.Conn]struct{}{},
		conns:     map[*connection.Conn]struct{}{},
		work:      make(chan *connection.Stream),
		quit:      make(chan struct{}),
	}
	for _, o := range opts {
		o.apply(&s.opts)
	}
	s.opts.unaryInt = chainUnary(s.opts.unaryInt, s.opts.unaryChain)
	s.opts.streamInt = chainStream(s.opts.streamInt, s.opts.streamChain)
	return s
}

// Handle registers run for the method desc describes: every call to
// desc.Path runs it with the call. Its error becomes the call's status (nil
// for OK). Registering a path twice panics, as in grpc-go.
func (s *Server) Handle(desc method.Desc, run func(*Call) error) {
	if _, _, err := method.ParsePath(desc.Path); err != nil {
		panic("h2grpc: Handle: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.handlers[desc.Path]; ok {
		panic("h2grpc: Handle: duplicate registration of " + desc.Path)
	}
	s.handlers[desc.Path] = &handler{desc: desc, run: run}
	s.services[desc.Service] = true
}

func (s *Server) lookup(path string) *handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handlers[path]
}

// unimplemented is the status of a call to a path nobody registered.
func (s *Server) unimplemented(path string) error {
	service, name, err := method.ParsePath(path)
	if err != nil {
		return status.Newf(status.Unimplemented, "malformed method name: %q", path)
	}
	s.mu.Lock()
	known := s.services[service]
	s.mu.Unlock()
	if !known {
		return status.Newf(status.Unimplemented, "unknown service %s", service)
	}
	return status.Newf(status.Unimplemented, "unknown method %s for service %s", name, service)
}

// Serve accepts connections on lis and serves each in its own goroutine
// until the server stops (ErrServerStopped) or lis fails.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		lis.Close()
		return ErrServerStopped
	}
	s.listeners[lis] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, lis)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		nc, err := lis.Accept()
		if err != nil {
			if s.isStopped() {
				return ErrServerStopped
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off, as
				// net/http does, instead of spinning.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.serveConn(nc)
	}
}

func (s *Server) isStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// serveConn serves a new connection in its own goroutine, handshake
// included, so that a slow client cannot hold up Accept.
func (s *Server) serveConn(nc net.Conn) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.accepted[nc] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	go s.runConn(nc)
}

// runConn is a connection's goroutine: the credentials' handshake, then
// HTTP/2 until the connection ends or its client falls silent
// (connection.Conn.Start); connWG is done once the connection has ended.
func (s *Server) runConn(raw net.Conn) {
	nc, info, err := s.handshake(raw)
	var c *connection.Conn
	if err == nil {
		c = connection.NewServerConn(nc, s.opts.conn, s.startStream)
		c.SetInline((*inlineRunner)(s))
		if info != nil {
			c.SetInfo(info)
		}
	}
	s.mu.Lock()
	delete(s.accepted, raw)
	if err != nil || s.stopped {
		s.mu.Unlock()
		if err == nil {
			nc.Close()
		}
		// Nothing is logged: the client sees its own error of a failed
		// handshake, and the server has no log.
		s.connWG.Done()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	k := startKeeper(c, s.opts.keepalive)
	c.Start(func() {
		k.stop()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.connWG.Done()
	})
}

// stop closes the listeners and returns the connections to end.
func (s *Server) stop() []*connection.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for lis := range s.listeners {
		lis.Close()
	}
	// A connection still in its handshake has no calls to let finish.
	for nc := range s.accepted {
		nc.Close()
	}
	conns := make([]*connection.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}

// Stop stops the server at once: listeners and connections are closed,
// calls in progress are cancelled. It returns once every handler has
// returned, so handlers must honour their context.
func (s *Server) Stop() {
	for _, c := range s.stop() {
		c.Close()
	}
	s.connWG.Wait()
	s.callWG.Wait()
	s.endWorkers()
}

// endWorkers ends the idle handler goroutines once no call is left.
func (s *Server) endWorkers() {
	s.quitOnce.Do(func() { close(s.quit) })
	s.workerWG.Wait()
}

// Shutdown stops the server gracefully: listeners close, every connection
// gets GOAWAY, calls in progress may finish. When ctx ends first, the calls
// left are cancelled and Shutdown returns ctx's error after they end.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.stop()
	errs := make(chan error, len(conns))
	for _, c := range conns {
		go func() { errs <- c.Shutdown(ctx) }()
	}
	var err error
	for range conns {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	s.connWG.Wait()
	s.callWG.Wait()
	s.endWorkers()
	return err
}

// GracefulStop is Shutdown without a time limit, grpc-go's name for it.
func (s *Server) GracefulStop() { s.Shutdown(context.Background()) }
