package connection

import (
	"strconv"
	"strings"

	"golang.org/x/net/http2/hpack"

	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/stream"
)

// encodeHeader HPACK-encodes h into the encoder's buffer: pseudo-headers first, then the
// gRPC headers, then metadata. wmu must be held. The block is valid until
// the next call.
func (c *Conn) encodeHeader(h *stream.Header) []byte {
	e := c.encoder()
	e.buf.Reset()
	visitFields(h, func(name, value string) {
		hf := hpack.HeaderField{Name: name, Value: value}
		if name == "grpc-timeout" {
			// The time left, counted in micro- or nanoseconds (deadlines
			// under 100 s), is new at each call: indexed, it would fill
			// both ends' tables with entries never used again (about 75
			// calls fill 4 KiB, then each evicts an older one), at an
			// insertion and an eviction at each end per call. A coarser
			// one repeats between calls close together, and indexed it
			// costs the peer's decoder no allocation then. The first is
			// indexed whatever its unit, so that the later ones refer to
			// its name rather than spell it out (an allocation too).
			unit := value[len(value)-1]
			hf.Sensitive = e.timeoutNamed && (unit == 'u' || unit == 'n')
			e.timeoutNamed = true
		}
		e.WriteField(hf)
	})
	for k, vs := range h.MD {
		bin := metadata.IsBinKey(k)
		for _, v := range vs {
			if bin {
				v = metadata.EncodeBin(v)
			}
			e.WriteField(hpack.HeaderField{Name: k, Value: v})
		}
	}
	return e.buf.Bytes()
}

// visitFields calls fn with each non-empty field of h but its metadata, in
// wire order: pseudo-headers first. Encoding and size checks both walk this
// one list, so they cannot disagree.
func visitFields(h *stream.Header, fn func(name, value string)) {
	f := func(name, value string) {
		if value != "" {
			fn(name, value)
		}
	}
	if h.Status != 0 {
		f(":status", statusText(h.Status))
	}
	f(":method", h.Method)
	f(":scheme", h.Scheme)
	f(":path", h.Path)
	f(":authority", h.Authority)
	f("content-type", h.ContentType)
	f("user-agent", h.UserAgent)
	f("te", h.TE)
	f("grpc-timeout", h.Timeout)
	f("grpc-encoding", h.Encoding)
	f("grpc-accept-encoding", h.AcceptEncoding)
	f("grpc-status", h.GRPCStatus)
	f("grpc-message", h.GRPCMessage)
	f("grpc-status-details-bin", h.GRPCDetails)
}

func statusText(code int) string {
	if code == 200 {
		return "200"
	}
	return strconv.Itoa(code)
}

// headerListSize is h's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it:
// name and value lengths plus 32 per field (RFC 9113 §6.5.2), with -bin
// values at their base64 length.
func headerListSize(h *stream.Header) uint64 {
	var n uint64
	visitFields(h, func(name, value string) {
		n += uint64(len(name) + len(value) + 32)
	})
	for k, vs := range h.MD {
		for _, v := range vs {
			size := len(v)
			if metadata.IsBinKey(k) {
				size = (len(v)*4 + 2) / 3
			}
			n += uint64(len(k) + size + 32)
		}
	}
	return n
}

// decodeHeader fills h from a received header block. It returns a reason
// when the block is malformed at the HTTP/2 level (RFC 9113 §8.2), which
// the caller answers with a stream error of type PROTOCOL_ERROR; gRPC-level
// problems (a bad -bin value) go in h.Invalid instead.
func decodeHeader(fields []hpack.HeaderField, h *stream.Header) (malformed string) {
	for _, f := range fields {
		switch f.Name {
		case ":method":
			h.Method = f.Value
		case ":scheme":
			h.Scheme = f.Value
		case ":path":
			h.Path = f.Value
		case ":authority":
			h.Authority = f.Value
		case ":status":
			n, err := strconv.Atoi(f.Value)
			if err != nil || n < 100 || n > 999 {
				return "invalid :status " + strconv.Quote(f.Value)
			}
			h.Status = n
		case "content-type":
			h.ContentType = f.Value
		case "user-agent":
			h.UserAgent = f.Value
		case "te":
			if f.Value != "trailers" {
				return `te header other than "trailers"`
			}
			h.TE = f.Value
		case "grpc-timeout":
			h.Timeout = f.Value
		case "grpc-encoding":
			h.Encoding = f.Value
		case "grpc-accept-encoding":
			h.AcceptEncoding = f.Value
		case "grpc-status":
			h.GRPCStatus = f.Value
		case "grpc-message":
			h.GRPCMessage = f.Value
		case "grpc-status-details-bin":
			h.GRPCDetails = f.Value
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return "connection-specific header " + f.Name
		default:
			if metadata.IsReserved(f.Name) {
				continue
			}
			if h.MD == nil {
				h.MD = make(metadata.MD, 4)
			}
			if !metadata.IsBinKey(f.Name) {
				h.MD[f.Name] = append(h.MD[f.Name], f.Value)
				continue
			}
			vs, err := metadata.DecodeBin(f.Value)
			if err != nil && h.Invalid == "" {
				h.Invalid = "malformed binary metadata " + strings.Clone(f.Name) + ": " + err.Error()
			}
			h.MD[f.Name] = append(h.MD[f.Name], vs...)
		}
	}
	return ""
}

// parseContentLength returns a header block's content-length, -1 when it
// has none; false when the field is malformed: not a decimal number, or
// repeated with different values (RFC 9110 §8.6).
func parseContentLength(fields []hpack.HeaderField) (n int64, ok bool) {
	n = -1
	for _, f := range fields {
		if f.Name != "content-length" {
			continue
		}
		v, err := strconv.ParseUint(f.Value, 10, 63)
		if err != nil || (n >= 0 && int64(v) != n) {
			return -1, false
		}
		n = int64(v)
	}
	return n, true
}
