package metadata

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// This file holds the base64 form of "-bin" header values (SPEC.md,
// "Requests"): emit unpadded, accept padded and unpadded, split on ','
// before decoding.

// EncodeBin returns the header form of the raw bytes v (held in a string):
// base64 with the standard alphabet and no padding. It allocates only the
// result.
func EncodeBin(v string) string {
	if v == "" {
		return ""
	}
	n := base64.RawStdEncoding.EncodedLen(len(v))
	buf := make([]byte, n)
	// Encode only reads its source, so viewing v's bytes without a copy is
	// safe; buf is not touched again once it becomes the result.
	base64.RawStdEncoding.Encode(buf, unsafe.Slice(unsafe.StringData(v), len(v)))
	return unsafe.String(unsafe.SliceData(buf), n)
}

// DecodeBin decodes one "-bin" header value. The value may hold several
// base64 values joined by "," (as an HTTP intermediary may combine repeated
// headers), each padded or unpadded and optionally surrounded by spaces or
// tabs; the decoded pieces are returned as separate values, in order. An
// empty piece decodes to an empty value, so DecodeBin("") is [""].
//
// The error says which piece is bad. All the pieces share one allocation.
func DecodeBin(v string) ([]string, error) {
	if strings.ContainsAny(v, "\r\n") {
		// encoding/base64 skips line breaks; a header cannot hold them.
		return nil, errors.New("metadata: bad -bin value: line break")
	}
	count := strings.Count(v, ",") + 1
	out := make([]string, count)
	// Each decoded piece is no longer than what the whole value can hold.
	buf := make([]byte, 0, base64.StdEncoding.DecodedLen(len(v))+3*count)
	ends := make([]int, 0, count) // ends[i]: end offset in buf of piece i
	rest := v
	for i := range count {
		piece := rest
		if j := strings.IndexByte(rest, ','); j >= 0 {
			piece, rest = rest[:j], rest[j+1:]
		}
		piece = strings.Trim(piece, " \t")
		enc := base64.RawStdEncoding
		if strings.HasSuffix(piece, "=") {
			enc = base64.StdEncoding
		}
		var err error
		buf, err = enc.AppendDecode(buf, unsafe.Slice(unsafe.StringData(piece), len(piece)))
		if err != nil {
			return nil, fmt.Errorf("metadata: bad -bin value: piece %d of %d: %w", i+1, count, err)
		}
		ends = append(ends, len(buf))
	}
	if len(buf) == 0 {
		return out, nil // all pieces empty
	}
	all := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is not written again
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	return out, nil
}
