package status_test

import (
	"strings"
	"testing"

	"github.com/h2grpc/h2grpc/status"
)

func TestEncodeMessage(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"plain text, with (punctuation)!~", "plain text, with (punctuation)!~"},
		{"100%", "100%25"},
		{"%%", "%25%25"},
		{"line\nbreak\r\ttab", "line%0Abreak%0D%09tab"},
		{"\x00\x1f\x7f\xff", "%00%1F%7F%FF"},
		{" ~", " ~"},
		{"héllo", "h%C3%A9llo"},
		{"日本", "%E6%97%A5%E6%9C%AC"},
		{"\xc3", "%C3"}, // invalid UTF-8 is encoded byte by byte too
	}
	for _, tt := range tests {
		if got := status.EncodeMessage(tt.in); got != tt.want {
			t.Errorf("EncodeMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"plain", "plain"},
		{"100%25", "100%"},
		{"h%C3%A9llo", "héllo"},
		{"lower %c3%a9 hex", "lower é hex"},
		{"%0A", "\n"},
		{"%", "%"},           // lone
		{"%4", "%4"},         // truncated
		{"50%", "50%"},       // trailing
		{"%zz", "%zz"},       // not hex
		{"%4g1", "%4g1"},     // second digit not hex
		{"%%41", "%A"},       // first % malformed, second fine
		{"%2541", "%41"},     // decoded once only
		{"a%20b%2", "a b%2"}, // good then truncated
		{"%E6%97%A5", "日"},
	}
	for _, tt := range tests {
		if got := status.DecodeMessage(tt.in); got != tt.want {
			t.Errorf("DecodeMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMessageNoAllocs(t *testing.T) {
	plain := "a perfectly ordinary error message, nothing to escape"
	var sink string
	if n := testing.AllocsPerRun(100, func() { sink = status.EncodeMessage(plain) }); n != 0 {
		t.Errorf("EncodeMessage(plain) allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { sink = status.DecodeMessage(plain) }); n != 0 {
		t.Errorf("DecodeMessage(plain) allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { sink = status.EncodeMessage(plain + "\n") }); n > 2 {
		// One for the concatenation above, one for the result.
		t.Errorf("EncodeMessage(escaped) allocates %v times, want at most 2", n)
	}
	_ = sink
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{"", "plain", "100%", "%zz%4", "héllo\n", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := status.EncodeMessage(s)
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] > 0x7E {
				t.Fatalf("EncodeMessage(%q) = %q holds byte %#x", s, enc, enc[i])
			}
		}
		if got := status.DecodeMessage(enc); got != s {
			t.Fatalf("DecodeMessage(EncodeMessage(%q)) = %q", s, got)
		}
		// Decoding arbitrary input never panics and never grows it.
		dec := status.DecodeMessage(s)
		if len(dec) > len(s) {
			t.Fatalf("DecodeMessage(%q) = %q is longer than its input", s, dec)
		}
		if !strings.Contains(s, "%") && dec != s {
			t.Fatalf("DecodeMessage(%q) = %q changed a string without %%", s, dec)
		}
	})
}

func BenchmarkEncodeMessage(b *testing.B) {
	for _, bm := range []struct{ name, msg string }{
		{"plain", "a perfectly ordinary error message"},
		{"escaped", "a message with a newline\n and 100% more"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = status.EncodeMessage(bm.msg)
			}
		})
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	for _, bm := range []struct{ name, msg string }{
		{"plain", "a perfectly ordinary error message"},
		{"escaped", "a message with a newline%0A and 100%25 more"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = status.DecodeMessage(bm.msg)
			}
		})
	}
}
