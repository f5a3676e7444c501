package compression_test

import (
	"strings"
	"testing"

	"github.com/h2grpc/h2grpc/compression"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		request, accept string
		want            string
	}{
		// The request's own built-in encoding, listed or not.
		{"gzip", "gzip", "gzip"},
		{"gzip", "deflate,gzip", "gzip"},
		{"gzip", "", "gzip"},
		{"gzip", "deflate", "gzip"}, // a peer need not list all it supports
		{"deflate", "gzip, deflate", "deflate"},
		{"zstd", " zstd ", "zstd"},
		{"snappy", "identity,snappy", "snappy"},
		// Identity requests get identity answers, whatever the client
		// accepts: the default is no compression.
		{"", "gzip,deflate,zstd,snappy", ""},
		{"identity", "gzip", ""},
		// Encodings we do not have are never answered with, even listed.
		{"br", "br,gzip", ""},
		{"GZIP", "GZIP", ""},
		{" gzip", "gzip", ""},
		{"x-gzip", "x-gzip", ""},
	}
	for _, tt := range tests {
		if got := compression.Negotiate(tt.request, tt.accept); got != tt.want {
			t.Errorf("Negotiate(%q, %q) = %q, want %q", tt.request, tt.accept, got, tt.want)
		}
	}
}

func TestAdvertises(t *testing.T) {
	tests := []struct {
		accept, name string
		want         bool
	}{
		{"gzip", "gzip", true},
		{"gzip,deflate", "deflate", true},
		{"gzip, deflate", "deflate", true},
		{"gzip ,\tdeflate\t, zstd", "deflate", true},
		{"  zstd  ", "zstd", true},
		{"identity,gzip,deflate,zstd,snappy", "snappy", true},
		{",,gzip,,", "gzip", true},
		{"", "gzip", false},
		{"gzip", "", false},
		{",", "", false},
		{"gzipx", "gzip", false},
		{"xgzip", "gzip", false},
		{"gz ip", "gzip", false},
		{"GZIP", "gzip", false},
		{"gzip;q=1", "gzip", false}, // grpc-accept-encoding has no parameters
		{"deflate", "gzip", false},
	}
	for _, tt := range tests {
		if got := compression.Advertises(tt.accept, tt.name); got != tt.want {
			t.Errorf("Advertises(%q, %q) = %v, want %v", tt.accept, tt.name, got, tt.want)
		}
	}
}

func TestNegotiateAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		compression.Negotiate("snappy", "gzip, deflate, zstd, snappy")
		compression.Advertises("gzip, deflate, zstd, snappy", "snappy")
	}); n != 0 {
		t.Errorf("Negotiate and Advertises allocate %v times", n)
	}
}

func FuzzAdvertises(f *testing.F) {
	for _, s := range []string{"gzip", "gzip, deflate", " , ,zstd\t", ""} {
		f.Add(s, "gzip")
	}
	f.Fuzz(func(t *testing.T, accept, name string) {
		got := compression.Advertises(accept, name)
		if n := compression.Negotiate(name, accept); n != "" && (n != name || compression.Get(n) == nil) {
			t.Fatalf("Negotiate(%q, %q) = %q", name, accept, n)
		}
		if name == "" || strings.Contains(name, ",") || strings.Trim(name, " \t") != name {
			return // not a name a list can hold
		}
		// A list advertises what it lists, and more entries keep it so.
		if !compression.Advertises(accept+","+name, name) {
			t.Fatalf("Advertises(%q, %q) = false", accept+","+name, name)
		}
		if got && !compression.Advertises(name+" ,"+accept, name) {
			t.Fatalf("Advertises(%q, %q) = false after prepending", name+" ,"+accept, name)
		}
	})
}
