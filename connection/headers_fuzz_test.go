package connection

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/stream"
)

// This file is an internal test: decodeHeader is unexported, and it is the
// one place where received header fields become a stream.Header and its
// metadata.

// FuzzDecodeHeader turns the input into a header field list (one field a
// line, "name=value") and decodes it twice: as it is, and the way the
// connection receives it, HPACK-encoded in a HEADERS frame that the Framer
// reads (and validates) before decodeHeader sees the fields. Each time the
// block is either refused with a reason that can be logged as it is, or
// accepted, and then:
//
//   - it breaks none of RFC 9113's rules for every kind of block: no
//     connection-specific field, te only "trailers" (§8.2.2, decodeHeader's
//     checks); and once through the Framer, which checks pseudo-headers,
//     no pseudo-header twice, none undefined, not both request and
//     response ones (§8.3);
//   - the metadata holds exactly the fields that are not reserved, in
//     order, with -bin values decoded; Invalid is set, naming the field,
//     exactly when a -bin value is not base64;
//   - encoding the result again (as the sender does) and decoding that
//     gives the same Header.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(":method=POST\n:scheme=http\n:path=/s/M\ncontent-type=application/grpc\nte=trailers\nx-md=a\nx-bin=AAEC")
	f.Fuzz(func(t *testing.T, list string) {
		fields := parseFieldList(list)
		checkDecodeHeader(t, fields, false)

		got, err := throughFramer(fields)
		if err != nil {
			var se http2.StreamError
			var ce http2.ConnectionError
			switch {
			case errors.As(err, &se) && se.Code == http2.ErrCodeProtocol && se.Cause != nil:
			case errors.As(err, &ce):
			default:
				t.Fatalf("Framer refused %q with %v: want a stream or connection error", fields, err)
			}
			return
		}
		h, ok := checkDecodeHeader(t, got, true)
		if !ok {
			return
		}
		for k := range h.MD {
			if k != strings.ToLower(k) || !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("metadata key %q came through the Framer", k)
			}
		}
	})
}

// parseFieldList reads one field a line: the name up to the first '=', the
// value after it (empty without one).
func parseFieldList(s string) []hpack.HeaderField {
	var fields []hpack.HeaderField
	for line := range strings.SplitSeq(s, "\n") {
		name, value, _ := strings.Cut(line, "=")
		fields = append(fields, hpack.HeaderField{Name: name, Value: value})
	}
	return fields
}

// throughFramer HPACK-encodes fields into a HEADERS frame and reads it back
// with a Framer set up as the connection sets up its own.
func throughFramer(fields []hpack.HeaderField) ([]hpack.HeaderField, error) {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range fields {
		enc.WriteField(f)
	}
	var wire bytes.Buffer
	w := http2.NewFramer(&wire, nil)
	if err := w.WriteHeaders(http2.HeadersFrameParam{
		StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true,
	}); err != nil {
		return nil, err
	}
	r := http2.NewFramer(nil, &wire)
	r.SetMaxReadFrameSize(1<<24 - 1)
	r.MaxHeaderListSize = DefaultMaxHeaderListSize
	r.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr, err := r.ReadFrame()
	if err != nil {
		return nil, err
	}
	return fr.(*http2.MetaHeadersFrame).Fields, nil
}

// checkDecodeHeader decodes fields and checks the result; it reports
// whether the block was accepted. framed says the Framer has read the
// fields, so the pseudo-header rules it enforces hold too.
func checkDecodeHeader(t *testing.T, fields []hpack.HeaderField, framed bool) (stream.Header, bool) {
	t.Helper()
	var h stream.Header
	reason := decodeHeader(fields, &h)
	if reason != "" {
		if !utf8.ValidString(reason) || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("decodeHeader(%q) refused it with %q: not a loggable reason", fields, reason)
		}
		return h, false
	}
	if why := malformed(fields, framed); why != "" {
		t.Fatalf("decodeHeader(%q) accepted it: %s (RFC 9113 §8.2.2, §8.3)", fields, why)
	}

	// The metadata, computed here from the fields.
	want := metadata.MD{}
	var invalid string // the first -bin field that is not base64
	for _, f := range fields {
		if metadata.IsReserved(f.Name) {
			continue
		}
		if !metadata.IsBinKey(f.Name) {
			want[f.Name] = append(want[f.Name], f.Value)
			continue
		}
		vs, err := metadata.DecodeBin(f.Value)
		if err != nil && invalid == "" {
			invalid = f.Name
		}
		want[f.Name] = append(want[f.Name], vs...)
	}
	switch {
	case invalid == "" && h.Invalid != "":
		t.Fatalf("decodeHeader(%q): Invalid = %q, but every -bin value is base64", fields, h.Invalid)
	case invalid != "" && !strings.Contains(h.Invalid, invalid):
		t.Fatalf("decodeHeader(%q): Invalid = %q, want it to name %q", fields, h.Invalid, invalid)
	}
	if len(h.MD) != len(want) {
		t.Fatalf("decodeHeader(%q): metadata %q, want %q", fields, h.MD, want)
	}
	for k, vs := range want {
		got, ok := h.MD[k]
		if !ok || (invalid == "" || !metadata.IsBinKey(k)) && !slices.Equal(got, vs) {
			t.Fatalf("decodeHeader(%q): metadata %q = %q, want %q", fields, k, got, vs)
		}
	}
	if h.Invalid != "" {
		return h, true // -bin values are missing: no round trip
	}

	// What a sender writes for h decodes to h.
	var again []hpack.HeaderField
	visitFields(&h, func(name, value string) {
		again = append(again, hpack.HeaderField{Name: name, Value: value})
	})
	for k, vs := range h.MD {
		for _, v := range vs {
			if metadata.IsBinKey(k) {
				v = metadata.EncodeBin(v)
			}
			again = append(again, hpack.HeaderField{Name: k, Value: v})
		}
	}
	var h2 stream.Header
	if reason := decodeHeader(again, &h2); reason != "" {
		t.Fatalf("decodeHeader(%q) = %+v, but its encoding %q is refused: %s", fields, h, again, reason)
	}
	if len(h.MD) == 0 {
		h.MD, h2.MD = nil, nil // an empty map is no metadata
	}
	if !reflect.DeepEqual(h, h2) {
		t.Fatalf("decodeHeader(%q) = %+v, but its encoding %q decodes to %+v", fields, h, again, h2)
	}
	return h, true
}

// malformed says what makes a header block malformed whatever its kind
// (request, response or trailers), or "". The pseudo-header rules are
// checked only with pseudo.
func malformed(fields []hpack.HeaderField, pseudo bool) string {
	seen := map[string]bool{}
	for _, f := range fields {
		switch f.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return "connection-specific field " + f.Name
		case "te":
			if f.Value != "trailers" {
				return "te is not trailers"
			}
		case ":method", ":scheme", ":authority", ":path", ":status",
			":protocol": // RFC 8441's; the Framer lets it through, decodeHeader ignores it
			if pseudo && seen[f.Name] {
				return "pseudo-header " + f.Name + " appears twice"
			}
			seen[f.Name] = true
		default:
			if pseudo && strings.HasPrefix(f.Name, ":") {
				return "undefined pseudo-header " + f.Name
			}
		}
	}
	if pseudo && seen[":status"] && (seen[":method"] || seen[":protocol"] || seen[":scheme"] || seen[":authority"] || seen[":path"]) {
		return "request and response pseudo-headers together"
	}
	return ""
}
