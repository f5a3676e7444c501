package stream

import (
	"sync"

	"github.com/h2grpc/h2grpc/status"
)

// Writer is what a SendStream needs from its connection. connection/
// implements it.
type Writer interface {
	// WriteBatch writes b as one step: its header block, its message (as
	// DATA frames, waiting for flow-control credit as needed), its trailer
	// block. It returns once everything is handed to the socket, or with an
	// error once the stream or the connection is gone.
	WriteBatch(b Batch) error
}

// Batch is what one write puts on the wire for a stream, in this order:
// an optional header block, an optional message, an optional trailer block.
// Putting them in one batch lets the connection send a whole unary request
// or response in one write.
type Batch struct {
	Header     *Header
	HasMessage bool
	Prefix     [PrefixLen]byte
	Data       []byte
	Trailer    *Header
	// Raw sends Data as it is, without a message prefix: the body of an
	// HTTP error response to a request that is not gRPC.
	Raw bool
	// End marks the end of the stream (END_STREAM): on the trailer block if
	// there is one, else on the message's last DATA frame, else on the
	// header block, else on an empty DATA frame.
	End bool
}

// SendStream is the sending half of a call. Headers are held back until the
// first message or the close, so they can still change (the encoding, for
// one) and so they leave in the same write as what follows them.
//
// A SendStream is used by one goroutine at a time; the connection reports
// resets through the errors WriteBatch returns.
//
// It holds no header block of its own: an open stream that has sent its
// headers (a server's idle stream) would otherwise keep two dead 240-byte
// blocks. The header block lives in storage the owner gives (UseHeader) or,
// by default, in a pooled block that goes back to the pool once written;
// the trailer block is pooled for the one write that sends it.
type SendStream struct {
	w Writer

	header     *Header // the header block until it is sent; nil before first use
	ownHeader  bool    // header is the owner's (UseHeader): never pooled
	headerSent bool
	ended      bool
	err        error // sticky error from the Writer
}

// blockPool holds the header and trailer blocks of SendStreams while they
// are being filled in and written; they are zeroed before they go back.
var blockPool = sync.Pool{New: func() any { return new(Header) }}

func getBlock() *Header { return blockPool.Get().(*Header) }

func putBlock(h *Header) {
	*h = Header{}
	blockPool.Put(h)
}

// Init prepares the stream. It must be called before the stream is used.
func (s *SendStream) Init(w Writer) { s.w = w }

// Header returns the stream's header block, sent before the first message
// or with the close, for the owner to fill in before the first Send. It
// must not be used once HeaderSent reports true: the block may be back in
// a pool by then.
func (s *SendStream) Header() *Header {
	if s.header == nil {
		s.header = getBlock()
	}
	return s.header
}

// UseHeader makes *h the stream's header block, in place of a pooled one:
// the stream reads it until the headers are sent and never releases it,
// so the owner may read it afterwards (a client replaying its call on
// another stream). Call it before the first Send.
func (s *SendStream) UseHeader(h *Header) {
	if s.header != nil && !s.ownHeader {
		putBlock(s.header)
	}
	s.header, s.ownHeader = h, true
}

// SentHeader returns the header block that was sent when it is the
// owner's (UseHeader), else nil.
func (s *SendStream) SentHeader() *Header {
	if s.ownHeader {
		return s.header
	}
	return nil
}

// takeHeader marks the header block sent and returns it for a batch.
func (s *SendStream) takeHeader() *Header {
	s.headerSent = true
	return s.Header()
}

// HeaderSent reports whether the header block has been written.
func (s *SendStream) HeaderSent() bool { return s.headerSent }

// Ended reports whether the stream has been closed by this side.
func (s *SendStream) Ended() bool { return s.ended }

// SendHeader writes the header block now, if it has not been written.
func (s *SendStream) SendHeader() error {
	if s.headerSent {
		return nil
	}
	if err := s.check(); err != nil {
		return err
	}
	return s.write(Batch{Header: s.takeHeader()})
}

// Send writes one message (the encoded bytes, compressed or not), preceded
// by the header block if it has not been written yet. It blocks while the
// peer's flow-control window is closed. data may be reused once Send
// returns.
func (s *SendStream) Send(data []byte, compressed bool) error {
	return s.send(data, compressed, false, nil)
}

// SendLast writes one message and ends the stream in the same write: with
// END_STREAM on the message when trailer is nil (a client's last message),
// or with the trailer block (a server's response and status).
func (s *SendStream) SendLast(data []byte, compressed bool, trailer *Header) error {
	return s.send(data, compressed, true, trailer)
}

func (s *SendStream) send(data []byte, compressed, end bool, trailer *Header) error {
	if err := s.check(); err != nil {
		return err
	}
	b := Batch{HasMessage: true, Prefix: Prefix(compressed, len(data)), Data: data, End: end}
	if !s.headerSent {
		b.Header = s.takeHeader()
	}
	if trailer != nil {
		b.Trailer = getBlock()
		*b.Trailer = *trailer
	}
	s.ended = end
	return s.write(b)
}

// Close ends the stream: with the trailer block (a server), or, when trailer
// is nil, with END_STREAM alone (a client half-closing). A server that has
// sent nothing yet sends a trailers-only response: one block holding the
// header's :status, content-type and grpc-accept-encoding and the trailer's
// fields, unless the header carries metadata, which then goes in its own
// block first. Only the first close writes anything.
func (s *SendStream) Close(trailer *Header) error {
	if s.ended {
		return nil
	}
	if err := s.check(); err != nil {
		return err
	}
	s.ended = true
	b := Batch{End: true}
	switch {
	case trailer == nil:
		if !s.headerSent {
			b.Header = s.takeHeader()
		}
	case !s.headerSent && len(s.Header().MD) == 0:
		h := s.takeHeader()
		b.Trailer = getBlock()
		*b.Trailer = *trailer
		b.Trailer.Status = h.Status
		b.Trailer.ContentType = h.ContentType
		b.Trailer.AcceptEncoding = h.AcceptEncoding
		s.releaseHeader()
	default:
		if !s.headerSent {
			b.Header = s.takeHeader()
		}
		b.Trailer = getBlock()
		*b.Trailer = *trailer
	}
	s.headerSent = true
	return s.write(b)
}

// CloseWithBody ends the stream with the header block and a plain body
// (no message prefix), for answering a request that is not gRPC with an
// HTTP error. Nothing may have been sent before.
func (s *SendStream) CloseWithBody(body []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.headerSent {
		return errSendAfterClose
	}
	s.ended = true
	return s.write(Batch{Header: s.takeHeader(), HasMessage: true, Raw: true, Data: body, End: true})
}

func (s *SendStream) check() error {
	if s.err != nil {
		return s.err
	}
	if s.ended {
		return errSendAfterClose
	}
	return nil
}

// write hands b to the Writer, then gives back the pooled blocks it held:
// the Writer keeps nothing of a batch once it returns.
func (s *SendStream) write(b Batch) error {
	err := s.w.WriteBatch(b)
	if b.Header != nil {
		s.releaseHeader()
	}
	if b.Trailer != nil {
		putBlock(b.Trailer)
	}
	if err != nil {
		s.err = err
	}
	return err
}

// releaseHeader returns a pooled header block once it has been sent.
func (s *SendStream) releaseHeader() {
	if s.header != nil && !s.ownHeader {
		putBlock(s.header)
		s.header = nil
	}
}

var errSendAfterClose = status.New(status.Internal, "grpc: send on a stream that this side has closed")
