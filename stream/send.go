package stream

import "github.com/h2grpc/h2grpc/status"

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
type SendStream struct {
	w Writer

	// Header is the stream's header block, sent before the first message or
	// with the close. Set it before the first Send.
	Header Header

	trailer    Header // storage for the block Close writes
	headerSent bool
	ended      bool
	err        error // sticky error from the Writer
}

// Init prepares the stream. It must be called before the stream is used.
func (s *SendStream) Init(w Writer) { s.w = w }

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
	s.headerSent = true
	return s.write(Batch{Header: &s.Header})
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
		b.Header = &s.Header
		s.headerSent = true
	}
	if trailer != nil {
		s.trailer = *trailer
		b.Trailer = &s.trailer
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
			b.Header = &s.Header
		}
	case !s.headerSent && len(s.Header.MD) == 0:
		s.trailer = *trailer
		s.trailer.Status = s.Header.Status
		s.trailer.ContentType = s.Header.ContentType
		s.trailer.AcceptEncoding = s.Header.AcceptEncoding
		b.Trailer = &s.trailer
	default:
		if !s.headerSent {
			b.Header = &s.Header
		}
		s.trailer = *trailer
		b.Trailer = &s.trailer
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
	s.headerSent, s.ended = true, true
	return s.write(Batch{Header: &s.Header, HasMessage: true, Raw: true, Data: body, End: true})
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

func (s *SendStream) write(b Batch) error {
	if err := s.w.WriteBatch(b); err != nil {
		s.err = err
		return err
	}
	return nil
}

var errSendAfterClose = status.New(status.Internal, "grpc: send on a stream that this side has closed")
