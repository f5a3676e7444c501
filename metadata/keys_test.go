package metadata_test

import (
	"strings"
	"testing"

	"github.com/h2grpc/h2grpc/metadata"
)

func TestIsBinKey(t *testing.T) {
	tests := []struct {
		k    string
		want bool
	}{
		{"trace-bin", true},
		{"-bin", true},
		{"bin", false},
		{"trace-bin-x", false},
		{"tracebin", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := metadata.IsBinKey(tt.k); got != tt.want {
			t.Errorf("IsBinKey(%q) = %v, want %v", tt.k, got, tt.want)
		}
	}
}

func TestIsReserved(t *testing.T) {
	tests := []struct {
		k    string
		want bool
	}{
		{":path", true},
		{":authority", true},
		{"grpc-status", true},
		{"grpc-timeout", true},
		{"grpc-", true},
		{"Grpc-Message", true},
		{"GRPC-TRACE-BIN", true},
		{"content-type", true},
		{"Content-Type", true},
		{"te", true},
		{"user-agent", true},
		{"host", true},
		{"connection", true},
		{"keep-alive", true},
		{"proxy-connection", true},
		{"transfer-encoding", true},
		{"upgrade", true},
		{"grpc", false},
		{"grpcx-foo", false},
		{"x-grpc-foo", false},
		{"content-type-x", false},
		{"tee", false},
		{"authorization", false},
		{"x-user-agent", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := metadata.IsReserved(tt.k); got != tt.want {
			t.Errorf("IsReserved(%q) = %v, want %v", tt.k, got, tt.want)
		}
	}
}

func TestValidKey(t *testing.T) {
	tests := []struct {
		k       string
		wantErr string // "" means valid
	}{
		{"authorization", ""},
		{"x-trace_id.v2", ""},
		{"0123456789", ""},
		{"trace-bin", ""},
		{"", "empty"},
		{"X-Upper", `"X-Upper"`},
		{"has space", "offset 3"},
		{"semi;colon", "byte 0x3b"},
		{"ключ", "ключ"},
		{":path", "reserved"},
		{"grpc-status", "reserved"},
		{"te", "reserved"},
		{"content-type", `"content-type" is reserved`},
	}
	for _, tt := range tests {
		err := metadata.ValidKey(tt.k)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidKey(%q) = %v, want nil", tt.k, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("ValidKey(%q) = nil, want an error", tt.k)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("ValidKey(%q) = %q, want it to contain %q", tt.k, err, tt.wantErr)
		}
	}
}

func TestValidValue(t *testing.T) {
	tests := []struct {
		v     string
		valid bool
	}{
		{"", true},
		{"Bearer abc.def", true},
		{" !\"#~", true},
		{"tab\t", false},
		{"line\n", false},
		{"\x7f", false},
		{"é", false},
		{"\x00", false},
	}
	for _, tt := range tests {
		if err := metadata.ValidValue(tt.v); (err == nil) != tt.valid {
			t.Errorf("ValidValue(%q) = %v, want valid: %v", tt.v, err, tt.valid)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		md      metadata.MD
		wantErr string
	}{
		{"nil", nil, ""},
		{"good", metadata.Pairs("a", "1", "trace-bin", "\x00\xff\n", "b", "x y"), ""},
		{"reserved", metadata.Pairs("grpc-status", "0"), `"grpc-status" is reserved`},
		{"bad key", metadata.MD{"Upper": {"v"}}, `"Upper"`},
		{"bad value", metadata.Pairs("a", "ok", "a", "bad\n"), `key "a", value 1`},
		{"smallest bad key reported", metadata.MD{"b": {"\n"}, "a": {"\n"}, "c": {"\n"}, "0": {"fine"}}, `key "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 10 { // map order varies; the result must not
				err := tt.md.Validate()
				if tt.wantErr == "" {
					if err != nil {
						t.Fatalf("Validate() = %v, want nil", err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
				}
			}
		})
	}
}
