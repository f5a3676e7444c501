package metadata_test

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/h2grpc/h2grpc/metadata"
)

func TestEncodeBin(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"a", "YQ"},
		{"ab", "YWI"},
		{"abc", "YWJj"},
		{"\x00\xff\xfe", "AP/+"},
		{"\xfb\xff", "+/8"},
	}
	for _, tt := range tests {
		if got := metadata.EncodeBin(tt.in); got != tt.want {
			t.Errorf("EncodeBin(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeBin(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: []string{""}},
		{in: "YQ", want: []string{"a"}},
		{in: "YQ==", want: []string{"a"}},
		{in: "YWI", want: []string{"ab"}},
		{in: "YWI=", want: []string{"ab"}},
		{in: "YWJj", want: []string{"abc"}},
		{in: "AP/+", want: []string{"\x00\xff\xfe"}},
		{in: "YQ,YWI=,YWJj", want: []string{"a", "ab", "abc"}},
		{in: "YQ, YWI", want: []string{"a", "ab"}},
		{in: "YQ,\tYWI ", want: []string{"a", "ab"}},
		{in: "YQ,,YQ", want: []string{"a", "", "a"}},
		{in: ",", want: []string{"", ""}},
		{in: "YQ=", wantErr: true},      // bad padding
		{in: "YQ===", wantErr: true},    // too much padding
		{in: "Y", wantErr: true},        // impossible length
		{in: "YQ==YQ==", wantErr: true}, // padding inside
		{in: "YQ-_", wantErr: true},     // URL alphabet
		{in: "YQ,$$", wantErr: true},    // second piece bad
		{in: "YW\nI", wantErr: true},    // line break
		{in: "YW\rI", wantErr: true},
		{in: "Y Q", wantErr: true}, // space inside a piece
	}
	for _, tt := range tests {
		got, err := metadata.DecodeBin(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("DecodeBin(%q) error = %v, want error: %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DecodeBin(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeBinErrorNamesPiece(t *testing.T) {
	_, err := metadata.DecodeBin("YQ,YQ,$")
	if err == nil || !strings.Contains(err.Error(), "piece 3 of 3") {
		t.Errorf("DecodeBin error = %v, want it to name piece 3 of 3", err)
	}
}

func TestEncodeBinAllocs(t *testing.T) {
	in := strings.Repeat("\x01\x02\x03", 20)
	var sink string
	if n := testing.AllocsPerRun(100, func() { sink = metadata.EncodeBin(in) }); n != 1 {
		t.Errorf("EncodeBin allocates %v times, want 1 (the result)", n)
	}
	_ = sink
}

func FuzzDecodeBin(f *testing.F) {
	for _, s := range []string{"", "a", "\x00\xff", "hello, world", ",="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, x string) {
		// Arbitrary input never panics, and a success gives one value per piece.
		if got, err := metadata.DecodeBin(x); err == nil && len(got) != strings.Count(x, ",")+1 {
			t.Fatalf("DecodeBin(%q) = %d values for %d pieces", x, len(got), strings.Count(x, ",")+1)
		}

		enc := metadata.EncodeBin(x)
		if want := base64.RawStdEncoding.EncodeToString([]byte(x)); enc != want {
			t.Fatalf("EncodeBin(%q) = %q, want %q", x, enc, want)
		}
		got, err := metadata.DecodeBin(enc)
		if err != nil || len(got) != 1 || got[0] != x {
			t.Fatalf("DecodeBin(EncodeBin(%q)) = %q, %v", x, got, err)
		}
		padded := base64.StdEncoding.EncodeToString([]byte(x))
		got, err = metadata.DecodeBin(padded)
		if err != nil || len(got) != 1 || got[0] != x {
			t.Fatalf("DecodeBin(%q) (padded) = %q, %v; want [%q]", padded, got, err, x)
		}
		joined := enc + "," + padded + ", " + enc
		got, err = metadata.DecodeBin(joined)
		if err != nil || !reflect.DeepEqual(got, []string{x, x, x}) {
			t.Fatalf("DecodeBin(%q) = %q, %v; want three times %q", joined, got, err, x)
		}
	})
}

func BenchmarkEncodeBin(b *testing.B) {
	in := strings.Repeat("\x01\x02\x03", 20)
	b.ReportAllocs()
	for b.Loop() {
		_ = metadata.EncodeBin(in)
	}
}

func BenchmarkDecodeBin(b *testing.B) {
	in := metadata.EncodeBin(strings.Repeat("\x01\x02\x03", 20))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := metadata.DecodeBin(in); err != nil {
			b.Fatal(err)
		}
	}
}
