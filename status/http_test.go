package status_test

import (
	"testing"

	"github.com/h2grpc/h2grpc/status"
)

func TestFromHTTPStatus(t *testing.T) {
	tests := []struct {
		http int
		want status.Code
	}{
		{400, status.Internal},
		{401, status.Unauthenticated},
		{403, status.PermissionDenied},
		{404, status.Unimplemented},
		{429, status.Unavailable},
		{502, status.Unavailable},
		{503, status.Unavailable},
		{504, status.Unavailable},
		{200, status.Unknown},
		{302, status.Unknown},
		{405, status.Unknown},
		{415, status.Unknown},
		{500, status.Unknown},
		{0, status.Unknown},
		{-1, status.Unknown},
	}
	for _, tt := range tests {
		if got := status.FromHTTPStatus(tt.http); got != tt.want {
			t.Errorf("FromHTTPStatus(%d) = %s, want %s", tt.http, got, tt.want)
		}
	}
}

func TestFromHTTP2ErrCode(t *testing.T) {
	tests := []struct {
		name string
		code uint32
		want status.Code
	}{
		{"NO_ERROR", 0x0, status.Internal},
		{"PROTOCOL_ERROR", 0x1, status.Internal},
		{"INTERNAL_ERROR", 0x2, status.Internal},
		{"FLOW_CONTROL_ERROR", 0x3, status.Internal},
		{"SETTINGS_TIMEOUT", 0x4, status.Internal},
		{"STREAM_CLOSED", 0x5, status.Internal},
		{"FRAME_SIZE_ERROR", 0x6, status.Internal},
		{"REFUSED_STREAM", 0x7, status.Unavailable},
		{"CANCEL", 0x8, status.Canceled},
		{"COMPRESSION_ERROR", 0x9, status.Internal},
		{"CONNECT_ERROR", 0xa, status.Internal},
		{"ENHANCE_YOUR_CALM", 0xb, status.ResourceExhausted},
		{"INADEQUATE_SECURITY", 0xc, status.PermissionDenied},
		{"HTTP_1_1_REQUIRED", 0xd, status.Internal},
		{"unknown", 0xff, status.Internal},
		{"max", 0xffffffff, status.Internal},
	}
	for _, tt := range tests {
		if got := status.FromHTTP2ErrCode(tt.code); got != tt.want {
			t.Errorf("FromHTTP2ErrCode(%s) = %s, want %s", tt.name, got, tt.want)
		}
	}
}
