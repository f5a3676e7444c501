package connection

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerReader must decode exactly as x/net's Framer with ReadMetaHeaders
// set, which it replaces: these tests feed both the same frames and
// compare what they return, frame by frame.

// readBoth reads every frame of wire with x/net's decoding and with
// headerReader, over maxList, and reports the first difference.
func readBoth(t *testing.T, wire []byte, maxList uint32) error {
	t.Helper()
	ref := http2.NewFramer(nil, bytes.NewReader(wire))
	ref.MaxHeaderListSize = maxList
	ref.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	ours := http2.NewFramer(nil, bytes.NewReader(wire))
	ours.MaxHeaderListSize = maxList
	var r headerReader
	r.init(ours, maxList)
	for i := 0; ; i++ {
		want, werr := ref.ReadFrame()
		got, gerr := ours.ReadFrame()
		if hf, ok := got.(*http2.HeadersFrame); ok && gerr == nil {
			got, gerr = r.read(hf)
		}
		if d := diffFrames(got, gerr, want, werr); d != "" {
			return fmt.Errorf("frame %d: %s", i, d)
		}
		if werr != nil {
			return nil
		}
	}
}

// diffFrames compares two ReadFrame results: the same error (same type,
// and code for HTTP/2 errors), the same frame type and stream, and for
// header blocks the same fields and truncation.
func diffFrames(got http2.Frame, gerr error, want http2.Frame, werr error) string {
	if (gerr == nil) != (werr == nil) || errKind(gerr) != errKind(werr) {
		return fmt.Sprintf("error %v, want %v", gerr, werr)
	}
	if (got == nil) != (want == nil) {
		return fmt.Sprintf("frame %v, want %v", got, want)
	}
	if got == nil {
		return ""
	}
	if reflect.TypeOf(got) != reflect.TypeOf(want) || got.Header().StreamID != want.Header().StreamID {
		return fmt.Sprintf("frame %v, want %v", got.Header(), want.Header())
	}
	if gm, ok := got.(*http2.MetaHeadersFrame); ok {
		wm := want.(*http2.MetaHeadersFrame)
		if gm.Truncated != wm.Truncated || len(gm.Fields) != len(wm.Fields) || (len(gm.Fields) > 0 && !reflect.DeepEqual(gm.Fields, wm.Fields)) {
			return fmt.Sprintf("fields %v (truncated %t), want %v (truncated %t)", gm.Fields, gm.Truncated, wm.Fields, wm.Truncated)
		}
		if gm.StreamEnded() != wm.StreamEnded() || gm.HeadersEnded() != wm.HeadersEnded() {
			return "flags differ"
		}
	}
	return ""
}

func errKind(err error) string {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return fmt.Sprintf("stream %d %v", se.StreamID, se.Code)
	case errors.As(err, &ce):
		return fmt.Sprintf("connection %v", http2.ErrCode(ce))
	}
	return err.Error()
}

// headerWire writes blocks of fields as HEADERS frames on streams 1, 3, ...,
// each block's encoding split into fragments of at most frag bytes
// (CONTINUATION frames), then a PING.
func headerWire(blocks [][]hpack.HeaderField, frag int) []byte {
	var wire, hb bytes.Buffer
	fr := http2.NewFramer(&wire, nil)
	enc := hpack.NewEncoder(&hb)
	for i, fields := range blocks {
		hb.Reset()
		for _, f := range fields {
			enc.WriteField(f)
		}
		writeBlock(fr, uint32(2*i+1), hb.Bytes(), frag)
	}
	fr.WritePing(false, [8]byte{})
	return wire.Bytes()
}

func writeBlock(fr *http2.Framer, id uint32, block []byte, frag int) {
	first := block[:min(frag, len(block))]
	rest := block[len(first):]
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: true, EndHeaders: len(rest) == 0})
	for len(rest) > 0 {
		n := min(frag, len(rest))
		fr.WriteContinuation(id, n == len(rest), rest[:n])
		rest = rest[n:]
	}
}

func fields(kv ...string) []hpack.HeaderField {
	var fs []hpack.HeaderField
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}

func TestHeaderReaderMatchesFramer(t *testing.T) {
	req := fields(":method", "POST", ":scheme", "http", ":path", "/a.B/C", ":authority", "x", "content-type", "application/grpc", "te", "trailers")
	long := strings.Repeat("v", 300)
	cases := map[string][][]hpack.HeaderField{
		"requests":             {req, req, append(fields(":status", "200"), fields("grpc-status", "0", "x-md", long)...)},
		"upper case name":      {req, fields(":method", "POST", "X-Up", "1"), req},
		"invalid value":        {fields(":method", "POST", "x", "a\x00b"), req},
		"pseudo after regular": {fields("x", "1", ":method", "POST"), req},
		"unknown pseudo":       {fields(":nope", "1"), req},
		"duplicate pseudo":     {fields(":method", "POST", ":method", "GET"), req},
		"request and response": {fields(":method", "POST", ":status", "200"), req},
		"empty name":           {fields("", "1"), req},
		"trailer field":        {fields(":method", "POST", "trailer", "a, b, c"), req},
		"many fields":          {append(req, fields(strings.Repeat("k,", 0)+"k1", "1", "k2", "2", "k3", long, "k4", long, "k5", "5")...), req},
		"empty block":          {nil, req},
	}
	for name, blocks := range cases {
		for _, frag := range []int{1 << 14, 7, 1} {
			for _, maxList := range []uint32{0, 1 << 20, 400, 100, 40} {
				t.Run(fmt.Sprintf("%s/frag=%d/max=%d", name, frag, maxList), func(t *testing.T) {
					if err := readBoth(t, headerWire(blocks, frag), maxList); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

// A fragment far larger than the list may hold, and CONTINUATION frames
// past the limit, close the connection before they are decoded.
func TestHeaderReaderContinuationFlood(t *testing.T) {
	var wire, hb bytes.Buffer
	fr := http2.NewFramer(&wire, nil)
	enc := hpack.NewEncoder(&hb)
	for i := range 200 {
		enc.WriteField(hpack.HeaderField{Name: fmt.Sprintf("x-%d", i), Value: strings.Repeat("v", 100)})
	}
	writeBlock(fr, 1, hb.Bytes(), 50)
	for _, maxList := range []uint32{1 << 20, 1000, 10} {
		if err := readBoth(t, wire.Bytes(), maxList); err != nil {
			t.Fatalf("max %d: %v", maxList, err)
		}
	}
}

// FuzzHeaderReader feeds arbitrary HPACK bytes, split into CONTINUATION
// frames, to both decoders.
func FuzzHeaderReader(f *testing.F) {
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, hf := range fields(":method", "POST", ":path", "/x", "X-Up", "1", "grpc-status", "0") {
		enc.WriteField(hf)
	}
	f.Add(hb.Bytes(), hb.Bytes(), uint8(5), uint16(1000))
	f.Add([]byte{0x82}, []byte{0x3f, 0xe1, 0x1f}, uint8(1), uint16(40))
	f.Fuzz(func(t *testing.T, block1, block2 []byte, frag uint8, maxList uint16) {
		var wire bytes.Buffer
		fr := http2.NewFramer(&wire, nil)
		n := max(int(frag), 1)
		writeBlock(fr, 1, block1, n)
		writeBlock(fr, 3, block2, n)
		fr.WritePing(false, [8]byte{})
		if err := readBoth(t, wire.Bytes(), uint32(maxList)+1); err != nil {
			t.Fatal(err)
		}
	})
}

// A unary call's three header blocks allocate nothing in headerReader once
// its field slice has grown.
func TestHeaderReaderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	var wire bytes.Buffer
	fr := http2.NewFramer(&wire, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	req := fields(":method", "POST", ":scheme", "http", ":path", "/a.B/C", ":authority", "x", "content-type", "application/grpc", "te", "trailers")
	for i := range 200 {
		hb.Reset()
		for _, f := range req {
			enc.WriteField(f)
		}
		writeBlock(fr, uint32(2*i+1), hb.Bytes(), 1<<14)
	}
	rd := http2.NewFramer(nil, bytes.NewReader(wire.Bytes()))
	var r headerReader
	r.init(rd, 1<<20)
	read := func() {
		f, err := rd.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.read(f.(*http2.HeadersFrame)); err != nil {
			t.Fatal(err)
		}
	}
	read()
	// The Framer's HeadersFrame is the one allocation left.
	if n := testing.AllocsPerRun(100, read); n > 1 {
		t.Errorf("reading a header block allocates %v times, want at most 1", n)
	}
}
