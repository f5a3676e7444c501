package connection

import (
	"errors"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerReader decodes header blocks (HEADERS + CONTINUATION) into
// MetaHeadersFrames as x/net's Framer does when its ReadMetaHeaders is set
// (Framer.readMetaFrame in x/net v0.62.0), with the same checks, limits and
// errors, but with state that lives as long as the connection: the emit
// function, the frame and its field slice are reused, where the Framer
// allocates about seven objects per block (three header blocks per unary
// call, ~20 allocations).
//
// Owned by the reader goroutine. The MetaHeadersFrame read returns, and its
// Fields, are valid until the next call.
type headerReader struct {
	fr      *http2.Framer
	dec     *hpack.Decoder
	maxList uint32 // the framer's MaxHeaderListSize

	frame  http2.MetaHeadersFrame
	fields []hpack.HeaderField // kept for the next block while small

	// The block being decoded, as readMetaFrame's local variables.
	headersRemain  uint32
	trailersRemain uint32
	sawRegular     bool
	invalid        error
}

// maxKeptFields bounds the field slice kept between blocks, so a peer's
// one huge block does not stay allocated.
const maxKeptFields = 64

// init sets r up to read fr's header blocks, maxList being fr's
// MaxHeaderListSize (0 takes the Framer's default, as it does).
func (r *headerReader) init(fr *http2.Framer, maxList uint32) {
	if maxList == 0 {
		maxList = 16 << 20 // Framer.maxHeaderListSize's default
	}
	r.fr, r.maxList = fr, maxList
}

// release lets go of the field slice kept between blocks, and of the last
// frame, for a connection that has gone quiet (Conn.releaseIdle).
func (r *headerReader) release() {
	r.frame = http2.MetaHeadersFrame{}
	r.fields = nil
}

// newDecoder makes the HPACK decoder, with the first header block: a
// connection that never gets one (an idle one) does not hold it.
func (r *headerReader) newDecoder() {
	r.dec = hpack.NewDecoder(4096, r.emit)
	// readMetaFrame's maxHeaderStringLen: the list size, or no limit if
	// it overflows an int.
	if n := int(r.maxList); n >= 0 {
		r.dec.SetMaxStringLength(n)
	}
}

var (
	errInvalidFieldValue  = errors.New("http2: invalid header field value")
	errInvalidFieldName   = errors.New("http2: invalid header field name")
	errPseudoAfterRegular = errors.New("http2: pseudo header field after regular")
	errBadPseudo          = errors.New("http2: invalid pseudo-header")
	errDupPseudo          = errors.New("http2: duplicate pseudo-header")
	errMixPseudo          = errors.New("http2: mix of request and response pseudo headers")
)

// emit is readMetaFrame's emit function.
func (r *headerReader) emit(hf hpack.HeaderField) {
	if !httpguts.ValidHeaderFieldValue(hf.Value) {
		r.invalid = errInvalidFieldValue
	}
	if strings.HasPrefix(hf.Name, ":") {
		if r.sawRegular {
			r.invalid = errPseudoAfterRegular
		}
	} else {
		r.sawRegular = true
		if !validWireHeaderFieldName(hf.Name) {
			r.invalid = errInvalidFieldName
		}
	}
	if r.invalid != nil {
		r.dec.SetEmitEnabled(false)
		return
	}
	remain, size := &r.headersRemain, hf.Size()
	if hf.Name == "trailer" {
		remain = &r.trailersRemain
		n := strings.Count(hf.Value, ",") + 1
		size = uint32(len(hf.Value)-n+1) + uint32(n)*hpack.HeaderField{}.Size()
	}
	if size > *remain {
		r.dec.SetEmitEnabled(false)
		r.frame.Truncated = true
		r.headersRemain, r.trailersRemain = 0, 0
		return
	}
	*remain -= size
	r.frame.Fields = append(r.frame.Fields, hf)
}

// read decodes the block hf starts, reading its CONTINUATION frames.
func (r *headerReader) read(hf *http2.HeadersFrame) (http2.Frame, error) {
	mh := &r.frame
	*mh = http2.MetaHeadersFrame{HeadersFrame: hf, Fields: r.fields[:0]}
	r.headersRemain, r.trailersRemain = r.maxList, r.maxList
	r.sawRegular, r.invalid = false, nil
	if r.dec == nil {
		r.newDecoder()
	}
	r.dec.SetEmitEnabled(true)
	defer func() {
		if cap(mh.Fields) <= maxKeptFields {
			r.fields = mh.Fields[:0]
		} else {
			r.fields = nil
		}
	}()

	var hc interface {
		HeaderBlockFragment() []byte
		HeadersEnded() bool
	} = hf
	for {
		frag := hc.HeaderBlockFragment()
		// Far more than the list may still hold, or anything after the
		// limit was reached or after an invalid field: a CONTINUATION
		// flood, answered by closing the connection before decoding.
		if int64(len(frag)) > 2*int64(r.headersRemain+r.trailersRemain) {
			return mh, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if r.invalid != nil {
			return mh, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if _, err := r.dec.Write(frag); err != nil {
			return mh, http2.ConnectionError(http2.ErrCodeCompression)
		}
		if hc.HeadersEnded() {
			break
		}
		f, err := r.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		hc = f.(*http2.ContinuationFrame) // the Framer checks the frame order
	}
	if err := r.dec.Close(); err != nil {
		return mh, http2.ConnectionError(http2.ErrCodeCompression)
	}
	if r.invalid != nil {
		return nil, http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: r.invalid}
	}
	if err := checkPseudos(mh.PseudoFields()); err != nil {
		return nil, http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: err}
	}
	return mh, nil
}

// checkPseudos is MetaHeadersFrame.checkPseudos: known pseudo-headers,
// no duplicates, not both request and response ones.
func checkPseudos(pf []hpack.HeaderField) error {
	var isRequest, isResponse bool
	for i, hf := range pf {
		switch hf.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			isRequest = true
		case ":status":
			isResponse = true
		default:
			return errBadPseudo
		}
		for _, hf2 := range pf[:i] {
			if hf.Name == hf2.Name {
				return errDupPseudo
			}
		}
	}
	if isRequest && isResponse {
		return errMixPseudo
	}
	return nil
}

// validWireHeaderFieldName is x/net's: a token with no upper case.
func validWireHeaderFieldName(v string) bool {
	if len(v) == 0 {
		return false
	}
	for _, r := range v {
		if !httpguts.IsTokenRune(r) || 'A' <= r && r <= 'Z' {
			return false
		}
	}
	return true
}
