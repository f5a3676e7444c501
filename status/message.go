package status

import "strings"

// This file holds the grpc-message percent-encoding (SPEC.md, "Responses").

const upperHex = "0123456789ABCDEF"

// needsPercent reports whether b must be percent-encoded in grpc-message:
// every byte outside printable ASCII (0x20..0x7E), and '%' itself.
func needsPercent(b byte) bool {
	return b < 0x20 || b > 0x7E || b == '%'
}

// EncodeMessage returns msg in its grpc-message form: every byte outside
// 0x20..0x7E, and '%', becomes %XX with uppercase hex digits. Multi-byte UTF-8
// sequences are encoded byte by byte. When nothing needs encoding it returns
// msg itself without allocating.
func EncodeMessage(msg string) string {
	i := 0
	for i < len(msg) && !needsPercent(msg[i]) {
		i++
	}
	if i == len(msg) {
		return msg
	}
	n := len(msg)
	for j := i; j < len(msg); j++ {
		if needsPercent(msg[j]) {
			n += 2
		}
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(msg[:i])
	for ; i < len(msg); i++ {
		c := msg[i]
		if needsPercent(c) {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0x0F])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// DecodeMessage returns the text of a grpc-message value. It never fails:
// each % followed by two hex digits (either case) is decoded, and a % that
// does not start such a sequence is kept as it is. When s has no '%' it
// returns s itself without allocating.
func DecodeMessage(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
