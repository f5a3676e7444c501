package compression

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// zeroReader returns nothing and no error, forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// stutterReader returns empty reads between its data.
type stutterReader struct {
	r     io.Reader
	empty bool
}

func (s *stutterReader) Read(p []byte) (int, error) {
	if s.empty = !s.empty; s.empty {
		return 0, nil
	}
	return s.r.Read(p)
}

func TestReadLimited(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 30_000) // 300 kB: several spill chunks
	readers := map[string]func([]byte) io.Reader{
		"plain":      func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte":   func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"data+EOF":   func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"half":       func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"stuttering": func(b []byte) io.Reader { return &stutterReader{r: bytes.NewReader(b)} },
	}
	for _, n := range []int{0, 1, 1000, spillChunkSize, spillChunkSize + 1, len(data)} {
		want := data[:n]
		for rname, newReader := range readers {
			// Size hints: none, right, low, and a dst with room or not.
			for _, hint := range []int{0, n, n / 2} {
				for _, dst := range [][]byte{nil, []byte("pre"), make([]byte, 0, n/3)} {
					what := fmt.Sprintf("%d bytes, %s reader, hint %d, cap(dst) %d", n, rname, hint, cap(dst))
					probe := make([]byte, 1)

					got, err := readLimited(dst, newReader(want), n, hint, probe)
					if err != nil || !bytes.Equal(got[len(dst):], want) || !bytes.Equal(got[:len(dst)], dst) {
						t.Fatalf("%s, limit = size: got %d bytes, %v", what, len(got), err)
					}
					if n == 0 {
						continue
					}
					got, err = readLimited(dst, newReader(want), n-1, min(hint, n-1), probe)
					if err != errLimit || len(got) != len(dst) {
						t.Fatalf("%s, limit = size-1: got %d bytes, %v; want errLimit", what, len(got), err)
					}
				}
			}
		}
	}
}

func TestReadLimitedErrors(t *testing.T) {
	boom := errors.New("boom")
	probe := make([]byte, 1)
	for _, tt := range []struct {
		name string
		r    io.Reader
		hint int
		want error
	}{
		{"error at once", iotest.ErrReader(boom), 0, boom},
		{"error after data, dst full", io.MultiReader(bytes.NewReader(make([]byte, 100)), iotest.ErrReader(boom)), 100, boom},
		{"error in the chunks", io.MultiReader(bytes.NewReader(make([]byte, 100)), iotest.ErrReader(boom)), 10, boom},
		{"no progress", zeroReader{}, 0, io.ErrNoProgress},
		{"no progress, dst full", io.MultiReader(bytes.NewReader(make([]byte, 10)), zeroReader{}), 10, io.ErrNoProgress},
		{"no progress in the chunks", io.MultiReader(bytes.NewReader(make([]byte, 10)), zeroReader{}), 5, io.ErrNoProgress},
	} {
		dst := []byte("dst")
		got, err := readLimited(dst, tt.r, 1000, tt.hint, probe)
		if err != tt.want || string(got) != "dst" {
			t.Errorf("%s: readLimited = %q, %v; want dst back and %v", tt.name, got, err, tt.want)
		}
	}
}

// A hint within dst's capacity costs nothing; a right hint costs one exact
// allocation, and so does the spill path.
func TestReadLimitedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops Puts under the race detector")
	}
	data := make([]byte, 3*spillChunkSize+5)
	probe := make([]byte, 1)
	r := bytes.NewReader(data)
	room := make([]byte, 0, len(data))
	for _, tt := range []struct {
		name string
		run  func()
		want float64
	}{
		{"dst with room", func() { r.Reset(data); readLimited(room, r, len(data), 0, probe) }, 0},
		{"right hint", func() { r.Reset(data); readLimited(nil, r, len(data), len(data), probe) }, 1},
		{"no hint", func() { r.Reset(data); readLimited(nil, r, len(data), 0, probe) }, 1},
	} {
		if got := testing.AllocsPerRun(20, tt.run); got > tt.want+0.5 {
			t.Errorf("%s: %v allocations, want %v", tt.name, got, tt.want)
		}
	}
}

func TestGrowExact(t *testing.T) {
	dst := []byte("abc")
	if got := growExact(dst, 0); &got[0] != &dst[0] {
		t.Errorf("growExact(dst, 0) reallocated")
	}
	got := growExact(dst, 10)
	if string(got) != "abc" || cap(got) != 13 {
		t.Errorf("growExact(%q, 10) = %q with cap %d, want cap 13", dst, got, cap(got))
	}
	if got2 := growExact(got, 10); &got2[0] != &got[0] {
		t.Errorf("growExact with room reallocated")
	}
}
