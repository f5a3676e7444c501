package connection

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// streamContext is a server stream's context: it ends when the stream is
// reset, its connection ends, its call finishes (Stream.Finish), or the
// request's grpc-timeout passes. It is allocated with its Stream (see
// serverStream) and replaces what was a context.WithCancelCause per stream
// plus, for a request with a deadline, a context.WithDeadline, its timer,
// its registration under the first, and a second timer for the server's
// deadline work: about ten allocations per call.
//
// Done, Err, Deadline, Value and context.Cause answer as the standard
// library's contexts do: Err is context.DeadlineExceeded once the deadline
// has passed, context.Canceled once it ended otherwise, and context.Cause
// is why (the reset's or the connection's error, errFinished, or
// DeadlineExceeded). The connection's deadline timer (deadlines.go) ends
// it at the deadline and then runs the server's deadline work
// (Stream.HandleDeadline).
//
// It implements the method the context package looks for,
// AfterFunc(func()) func() bool: context.WithCancel, WithDeadline and
// AfterFunc register their children with it instead of starting a
// goroutine each to watch Done.
//
// All methods may be called from any goroutine.
type streamContext struct {
	mu    sync.Mutex
	state atomic.Uint32 // ctxLive until it ends; set under mu
	// hasDone is set once done is: Done's answer without the lock.
	hasDone atomic.Bool
	done    chan struct{} // made on first Done; set under mu, before hasDone

	// dl is set before the stream reaches its handler, for a request with
	// a deadline, and never changes; nil for none. Out of line: with it
	// inline, a stream and its context would not fit together in the
	// 640-byte size class; it takes the place of the timer and closure a
	// deadline would otherwise cost (deadlines.go).
	dl *ctxDeadline

	more *ctxMore // made when first needed, which few calls do; under mu
}

// The states of a streamContext. The usual causes are states, so that the
// context need not hold an error: with one, it and its Stream would not
// fit together in the 640-byte size class.
const (
	ctxLive     uint32 = iota
	ctxFinished        // Canceled; the cause is errFinished
	ctxCanceled        // Canceled; the cause is more.cause
	ctxExpired         // DeadlineExceeded, the cause too
)

// ctxMore is what few stream contexts need.
type ctxMore struct {
	cause  error             // why it ended, in state ctxCanceled
	funcs  map[uint64]func() // registered with AfterFunc; nil once ended
	nextFn uint64
	mirror context.Context // Cause's answer once it ended; see Value
}

func (x *streamContext) moreLocked() *ctxMore {
	if x.more == nil {
		x.more = new(ctxMore)
	}
	return x.more
}

// causeLocked returns why the context ended; mu must be held.
func (x *streamContext) causeLocked() error {
	switch x.state.Load() {
	case ctxFinished:
		return errFinished
	case ctxCanceled:
		return x.more.cause
	case ctxExpired:
		return context.DeadlineExceeded
	}
	return nil
}

// serverStream allocates a server stream and its context together: one
// allocation per stream for both.
type serverStream struct {
	Stream
	ctx streamContext
}

// A DeadlineHandler does a server call's work when its request's deadline
// passes; see Stream.HandleDeadline.
type DeadlineHandler interface {
	// StreamDeadline runs once, on the deadline timer's goroutine, after
	// the stream's context has ended with context.DeadlineExceeded.
	StreamDeadline()
}

// HandleDeadline arranges for h to run when the deadline of a server
// stream's request passes, right after the deadline ended the stream's
// context, on the deadline timer's goroutine. It reports false if the
// context has already ended (then h never runs; Err says whether the
// deadline ended it) or the stream has no deadline (then its context never
// ends that way). One handler at a time.
func (s *Stream) HandleDeadline(h DeadlineHandler) bool {
	x := s.ctx
	if x.dl == nil {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.state.Load() != ctxLive {
		return false
	}
	x.dl.handler = h
	return true
}

// StopDeadline undoes HandleDeadline. It reports whether the handler had
// not been started and now never will be; false means it has run or is
// running, or there was none.
func (s *Stream) StopDeadline() bool {
	x := s.ctx
	if x.dl == nil {
		return false
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	h := x.dl.handler
	x.dl.handler = nil
	return h != nil
}

// setTimeout gives the context its deadline, d from now, kept with the
// connection's other deadlines in q, which ends the context then. It is
// called by the reader as the request's headers are parsed, before the
// stream is handed to the server, so the deadline counts from when the
// request arrived, as in grpc-go.
func (x *streamContext) setTimeout(q *deadlines, d time.Duration) {
	x.dl = &ctxDeadline{at: time.Now().Add(d), x: x, q: q, index: -1}
	x.mu.Lock()
	defer x.mu.Unlock()
	if d <= 0 {
		x.endLocked(ctxExpired, nil) // nothing is registered yet
		return
	}
	if x.state.Load() == ctxLive { // cannot be otherwise before the stream is shared; cheap to be sure
		q.add(x.dl)
	}
}

// expire ends the context as its deadline passes and returns its deadline
// handler, for the caller to run, if it has one and the deadline is what
// ended it.
func (x *streamContext) expire() DeadlineHandler {
	x.mu.Lock()
	h := x.dl.handler
	x.dl.handler = nil
	funcs, ok := x.endLocked(ctxExpired, nil)
	if !ok {
		// It ended otherwise first: the handler stays registered, so
		// that StopDeadline reports it never ran.
		x.dl.handler = h
		x.mu.Unlock()
		return nil
	}
	x.mu.Unlock()
	runFuncs(funcs)
	return h
}

// cancel ends the context with cause, unless it has ended.
func (x *streamContext) cancel(cause error) {
	x.mu.Lock()
	state := ctxFinished
	if cause != errFinished {
		state = ctxCanceled
	}
	funcs, _ := x.endLocked(state, cause)
	x.mu.Unlock()
	runFuncs(funcs)
}

// endLocked ends the context in state (with cause, for ctxCanceled),
// unless it has ended, and returns the functions registered with
// AfterFunc, for the caller to run once it has unlocked mu. x.mu must be
// held.
func (x *streamContext) endLocked(state uint32, cause error) (funcs map[uint64]func(), ok bool) {
	if x.state.Load() != ctxLive {
		return nil, false
	}
	if state == ctxCanceled {
		x.moreLocked().cause = cause
	}
	// Before Done is closed: whoever sees it closed must see Err. Err
	// waits for Done in turn.
	x.state.Store(state)
	if x.done != nil {
		close(x.done)
	} else {
		x.done = closedchan
		x.hasDone.Store(true)
	}
	if x.dl != nil {
		x.dl.q.remove(x.dl)
	}
	if x.more != nil {
		funcs, x.more.funcs = x.more.funcs, nil
	}
	return funcs, true
}

// runFuncs runs the functions registered with AfterFunc. They run on the
// goroutine that ended the context: the context package registers only
// functions that cancel a child context (context.AfterFunc's own f runs in
// a goroutine of its own, started by the child it registers).
func runFuncs(funcs map[uint64]func()) {
	for _, f := range funcs {
		f()
	}
}

// closedchan is the Done channel of a context that ended before anyone
// asked for it.
var closedchan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (x *streamContext) Deadline() (time.Time, bool) {
	if x.dl == nil {
		return time.Time{}, false
	}
	return x.dl.at, true
}

func (x *streamContext) Done() <-chan struct{} {
	if x.hasDone.Load() {
		return x.done
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		x.done = make(chan struct{})
		x.hasDone.Store(true)
	}
	return x.done
}

func (x *streamContext) Err() error {
	st := x.state.Load()
	if st == ctxLive {
		return nil
	}
	// As the context package's own: an Err that is not nil means Done
	// is closed (which follows at once, under mu).
	<-x.Done()
	if st == ctxExpired {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// Value has no values of its own: a stream context's parent is
// context.Background. One key is answered, once the context has ended
// with a cause other than its Err: the context package's own key for
// the *cancelCtx behind a context, which context.Cause asks for. The
// answer is a cancelCtx cancelled with the same cause, made then, so that
// context.Cause returns the cause, of this context and of the children
// it cancels, as it does for a context.WithCancelCause.
func (x *streamContext) Value(key any) any {
	if key != cancelCtxKey || cancelCtxKey == nil || x.state.Load() == ctxLive {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	cause, err := x.causeLocked(), context.Canceled
	if x.state.Load() == ctxExpired {
		err = context.DeadlineExceeded
	}
	if cause == err {
		return nil // Cause returns Err
	}
	more := x.moreLocked()
	if more.mirror == nil {
		m, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		more.mirror = m
	}
	return more.mirror.Value(key)
}

// AfterFunc arranges for f to run once the context ends, and returns a
// function that stops that: it reports whether it stopped f from running.
// The context package calls it for the children of a context that has it;
// f runs on the goroutine that ends the context, so it must not block.
// If the context has already ended, f runs at once in a goroutine of its
// own (the context package calls AfterFunc with a child's lock held, and
// f takes it).
func (x *streamContext) AfterFunc(f func()) (stop func() bool) {
	x.mu.Lock()
	if x.state.Load() != ctxLive {
		x.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	more := x.moreLocked()
	if more.funcs == nil {
		more.funcs = make(map[uint64]func())
	}
	more.nextFn++
	id := more.nextFn
	more.funcs[id] = f
	x.mu.Unlock()
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		_, ok := more.funcs[id]
		delete(more.funcs, id)
		return ok
	}
}

// String names the context when it is printed, as the context package's
// own types do.
func (x *streamContext) String() string {
	if x.dl == nil {
		return "h2grpc.StreamContext"
	}
	return "h2grpc.StreamContext.WithDeadline(" + x.dl.at.String() + " [" + time.Until(x.dl.at).String() + "])"
}

// cancelCtxKey is the key context.Cause asks a context's Value for; nil if
// it could not be found, and then context.Cause of a stream context is its
// Err. The key is unexported: it is found once, at start-up, by asking
// context.Cause about a context that notes the keys asked of it, and
// checked by asking context.Cause about a context that answers it.
var cancelCtxKey = findCancelCtxKey()

func findCancelCtxKey() (key any) {
	defer func() {
		if recover() != nil { // a surprise: do without
			key = nil
		}
	}()
	var r keyRecorder
	r.Context = context.Background()
	context.Cause(&r)
	if len(r.keys) != 1 {
		return nil
	}
	key = r.keys[0]
	_ = map[any]bool{key: true} // panics if not comparable
	m, cancel := context.WithCancelCause(context.Background())
	cancel(errProbe)
	if context.Cause(keyAnswerer{m, key}) != errProbe {
		return nil
	}
	return key
}

var errProbe = errors.New("probe")

// keyRecorder is a context that has ended and notes what Value is asked.
type keyRecorder struct {
	context.Context
	keys []any
}

func (r *keyRecorder) Err() error { return context.Canceled }

func (r *keyRecorder) Value(key any) any {
	r.keys = append(r.keys, key)
	return nil
}

// keyAnswerer is a context that has ended and answers key as m does.
type keyAnswerer struct {
	m   context.Context
	key any
}

func (k keyAnswerer) Deadline() (time.Time, bool) { return time.Time{}, false }
func (k keyAnswerer) Done() <-chan struct{}       { return closedchan }
func (k keyAnswerer) Err() error                  { return context.Canceled }

func (k keyAnswerer) Value(key any) any {
	if key == k.key {
		return k.m.Value(key)
	}
	return nil
}
