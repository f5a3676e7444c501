package client

import (
	"context"
	"sync"
)

// ctxWatch is what a call registers with context.AfterFunc on its
// context, so that the context's end resets the stream. Its func is made
// once per ctxWatch, and a ctxWatch whose registration was stopped before
// it ran goes back to a pool: a call would otherwise allocate the method
// value call.onContextDone each time, besides what context.AfterFunc
// allocates itself.
type ctxWatch struct {
	call *Call
	f    func()      // fire, bound to this ctxWatch
	stop func() bool // stops the registration; from context.AfterFunc
}

var ctxWatches = sync.Pool{New: func() any {
	w := new(ctxWatch)
	w.f = w.fire
	return w
}}

func (w *ctxWatch) fire() { w.call.onContextDone() }

// watchContext registers c with its context, which must be able to end:
// a first time, or again after unwatchContext reported true.
func (c *Call) watchContext() {
	if c.watch == nil {
		c.watch = ctxWatches.Get().(*ctxWatch)
		c.watch.call = c
	}
	c.watch.stop = context.AfterFunc(c.ctx, c.watch.f)
}

// unwatchContext stops the registration, and reports whether it did so
// before the context's end started onContextDone. If not, fire has run or
// is running, and still reads its ctxWatch: releaseWatch leaves it to the
// garbage collector.
func (c *Call) unwatchContext() bool { return c.watch.stop() }

// releaseWatch gives the ctxWatch back to the pool once the call is over,
// if its registration was stopped before it ran (stopped reports that).
func (c *Call) releaseWatch(stopped bool) {
	if w := c.watch; stopped {
		*w = ctxWatch{f: w.f}
		ctxWatches.Put(w)
	}
	c.watch = nil
}
