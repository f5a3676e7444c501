package metadata_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/metadata"
)

func TestEncodeTimeout(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{math.MinInt64, "1n"},
		{-time.Second, "1n"},
		{0, "1n"},
		{1, "1n"},
		{99_999_999, "99999999n"},
		{100_000_000, "100000u"},
		{100_000_001, "100001u"}, // rounded up
		{time.Second, "1000000u"},
		{99_999_999 * time.Microsecond, "99999999u"},
		{99_999_999*time.Microsecond + 1, "100000m"},
		{99_999_999 * time.Millisecond, "99999999m"},
		{99_999_999*time.Millisecond + 1, "100000S"},
		{99_999_999 * time.Second, "99999999S"},
		{99_999_999*time.Second + 1, "1666667M"},
		{99_999_999 * time.Minute, "99999999M"},
		{99_999_999*time.Minute + 1, "1666667H"},
		{math.MaxInt64, "2562048H"},
	}
	for _, tt := range tests {
		if got := metadata.EncodeTimeout(tt.d); got != tt.want {
			t.Errorf("EncodeTimeout(%d) = %q, want %q", int64(tt.d), got, tt.want)
		}
	}
}

func TestDecodeTimeout(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "1n", want: 1},
		{in: "0n", want: 0},
		{in: "00000001u", want: time.Microsecond},
		{in: "5m", want: 5 * time.Millisecond},
		{in: "30S", want: 30 * time.Second},
		{in: "2M", want: 2 * time.Minute},
		{in: "1H", want: time.Hour},
		{in: "99999999n", want: 99_999_999},
		{in: "99999999H", want: math.MaxInt64}, // saturates
		{in: "2562047H", want: 2_562_047 * time.Hour},
		{in: "2562048H", want: math.MaxInt64},
		{in: "", wantErr: true},
		{in: "S", wantErr: true},
		{in: "1", wantErr: true},
		{in: "10", wantErr: true},
		{in: "123456789n", wantErr: true},
		{in: "1s", wantErr: true},
		{in: "1h", wantErr: true},
		{in: "1x", wantErr: true},
		{in: "-1S", wantErr: true},
		{in: "+1S", wantErr: true},
		{in: " 1S", wantErr: true},
		{in: "1 S", wantErr: true},
		{in: "1S ", wantErr: true},
		{in: "1SS", wantErr: true},
		{in: "1.5S", wantErr: true},
		{in: "１S", wantErr: true}, // fullwidth digit
	}
	for _, tt := range tests {
		got, err := metadata.DecodeTimeout(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("DecodeTimeout(%q) error = %v, want error: %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("DecodeTimeout(%q) = %d, want %d", tt.in, int64(got), int64(tt.want))
		}
		if err != nil && !strings.Contains(err.Error(), "grpc-timeout") {
			t.Errorf("DecodeTimeout(%q) error %q does not name grpc-timeout", tt.in, err)
		}
	}
}

func TestEncodeTimeoutAllocs(t *testing.T) {
	var sink string
	// One allocation at most: the result (short strings may not allocate at all).
	if n := testing.AllocsPerRun(100, func() { sink = metadata.EncodeTimeout(1234567 * time.Microsecond) }); n > 1 {
		t.Errorf("EncodeTimeout allocates %v times, want at most 1", n)
	}
	_ = sink
	if n := testing.AllocsPerRun(100, func() { _, _ = metadata.DecodeTimeout("1234567u") }); n != 0 {
		t.Errorf("DecodeTimeout allocates %v times, want 0", n)
	}
}

func FuzzTimeout(f *testing.F) {
	f.Add(int64(1), "1n")
	f.Add(int64(time.Second), "1000000u")
	f.Add(int64(math.MaxInt64), "99999999H")
	f.Add(int64(-5), "123456789S")
	f.Fuzz(func(t *testing.T, n int64, s string) {
		if got, err := metadata.DecodeTimeout(s); err == nil {
			if got < 0 {
				t.Fatalf("DecodeTimeout(%q) = %d is negative", s, int64(got))
			}
			if len(s) < 2 || len(s) > 9 {
				t.Fatalf("DecodeTimeout accepted %q", s)
			}
		}

		d := time.Duration(n)
		if d < 1 {
			d = 1
		}
		enc := metadata.EncodeTimeout(d)
		if len(enc) < 2 || len(enc) > 9 {
			t.Fatalf("EncodeTimeout(%d) = %q: want 1-8 digits and a unit", n, enc)
		}
		dec, err := metadata.DecodeTimeout(enc)
		if err != nil {
			t.Fatalf("DecodeTimeout(EncodeTimeout(%d) = %q): %v", int64(d), enc, err)
		}
		if dec < d {
			t.Fatalf("EncodeTimeout(%d) = %q decodes to %d, shorter than the timeout", int64(d), enc, int64(dec))
		}
		// The finest unit that fits is used, so the excess is under a unit.
		if unit := unitOf(enc); dec != math.MaxInt64 && dec-d >= unit {
			t.Fatalf("EncodeTimeout(%d) = %q decodes to %d: rounded up by a whole unit or more", int64(d), enc, int64(dec))
		}
		// And a finer unit would not have fitted in 8 digits.
		if finer := finerUnit(unitOf(enc)); finer != 0 && ceilDiv(d, finer) <= 99_999_999 {
			t.Fatalf("EncodeTimeout(%d) = %q, but the finer unit %v fits", int64(d), enc, finer)
		}
	})
}

func ceilDiv(d, unit time.Duration) time.Duration {
	q := d / unit
	if d%unit != 0 {
		q++
	}
	return q
}

func unitOf(enc string) time.Duration {
	return map[byte]time.Duration{
		'n': time.Nanosecond, 'u': time.Microsecond, 'm': time.Millisecond,
		'S': time.Second, 'M': time.Minute, 'H': time.Hour,
	}[enc[len(enc)-1]]
}

func finerUnit(u time.Duration) time.Duration {
	switch u {
	case time.Microsecond:
		return time.Nanosecond
	case time.Millisecond:
		return time.Microsecond
	case time.Second:
		return time.Millisecond
	case time.Minute:
		return time.Second
	case time.Hour:
		return time.Minute
	}
	return 0
}

func BenchmarkEncodeTimeout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = metadata.EncodeTimeout(1234567 * time.Microsecond)
	}
}

func BenchmarkDecodeTimeout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := metadata.DecodeTimeout("1234567u"); err != nil {
			b.Fatal(err)
		}
	}
}
