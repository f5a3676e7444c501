package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/h2grpc/h2grpc/internal/tlstest"
	conformancev1 "github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
)

// The server runs in-process through run, fed as connectconformance feeds
// the command (the request, then stdin closed), and is called with
// grpc-go's client through the generated stubs.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestMessageFraming(t *testing.T) {
	want := &conformancev1.ServerCompatResponse{Host: "127.0.0.1", Port: 8080, PemCert: []byte("cert")}
	var buf bytes.Buffer
	if err := writeMessage(&buf, want); err != nil {
		t.Fatal(err)
	}
	if n := int(buf.Bytes()[3]); n != buf.Len()-4 {
		t.Fatalf("length prefix %d, want %d", n, buf.Len()-4)
	}
	framed := bytes.Clone(buf.Bytes())
	got := &conformancev1.ServerCompatResponse{}
	if err := readMessage(&buf, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"short prefix", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"short message", framed[:len(framed)-1], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		if err := readMessage(bytes.NewReader(tt.in), got); !errors.Is(err, tt.want) {
			t.Errorf("%s: readMessage returned %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := readMessage(bytes.NewReader([]byte{0xff, 0, 0, 0}), got); err == nil {
		t.Error("readMessage accepted a 4 GiB length")
	}
}

func TestServerOptionsRefuses(t *testing.T) {
	grpcH2 := func() *conformancev1.ServerCompatRequest {
		return &conformancev1.ServerCompatRequest{
			Protocol:    conformancev1.Protocol_PROTOCOL_GRPC,
			HttpVersion: conformancev1.HTTPVersion_HTTP_VERSION_2,
		}
	}
	tests := []struct {
		name string
		edit func(*conformancev1.ServerCompatRequest)
		want string
	}{
		{"connect", func(r *conformancev1.ServerCompatRequest) { r.Protocol = conformancev1.Protocol_PROTOCOL_CONNECT }, "protocol"},
		{"http/1.1", func(r *conformancev1.ServerCompatRequest) { r.HttpVersion = conformancev1.HTTPVersion_HTTP_VERSION_1 }, "HTTP version"},
		{"no certificate", func(r *conformancev1.ServerCompatRequest) { r.UseTls = true }, "server certificate"},
		{"bad client CA", func(r *conformancev1.ServerCompatRequest) {
			cert, key := serverPEM(t)
			r.UseTls = true
			r.ServerCreds = &conformancev1.TLSCreds{Cert: cert, Key: key}
			r.ClientTlsCert = []byte("not PEM")
		}, "client certificate"},
	}
	for _, tt := range tests {
		req := grpcH2()
		tt.edit(req)
		_, _, err := serverOptions(req)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: serverOptions returned %v, want an error about %q", tt.name, err, tt.want)
		}
	}
}

// serverPEM returns the test server certificate chain and key in PEM.
func serverPEM(t *testing.T) (cert, key []byte) {
	t.Helper()
	b := tlstest.Certs()
	for _, der := range b.Server.Certificate {
		cert = append(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(b.Server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// startServer runs the command with req on stdin until the test ends,
// checks it then stops cleanly, and returns its ServerCompatResponse.
func startServer(t *testing.T, req *conformancev1.ServerCompatRequest) *conformancev1.ServerCompatResponse {
	t.Helper()
	var stdin bytes.Buffer
	if err := writeMessage(&stdin, req); err != nil {
		t.Fatal(err)
	}
	stdoutR, stdoutW := io.Pipe()
	var stderr bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, &stdin, stdoutW, &stderr) }()
	t.Cleanup(func() {
		cancel()
		stdoutR.Close()
		if err := <-done; err != nil {
			t.Errorf("run returned %v; stderr: %s", err, stderr.String())
		}
	})
	resp := &conformancev1.ServerCompatResponse{}
	if err := readMessage(stdoutR, resp); err != nil {
		t.Fatalf("reading the ServerCompatResponse: %v", err)
	}
	return resp
}

// dial returns a client of the server resp describes, closed when the test
// ends.
func dial(t *testing.T, resp *conformancev1.ServerCompatResponse, creds credentials.TransportCredentials) conformancev1.ConformanceServiceClient {
	t.Helper()
	addr := net.JoinHostPort(resp.GetHost(), strconv.Itoa(int(resp.GetPort())))
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return conformancev1.NewConformanceServiceClient(cc)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRunH2C(t *testing.T) {
	resp := startServer(t, &conformancev1.ServerCompatRequest{
		Protocol:            conformancev1.Protocol_PROTOCOL_GRPC,
		HttpVersion:         conformancev1.HTTPVersion_HTTP_VERSION_2,
		MessageReceiveLimit: 1024,
	})
	if resp.GetHost() != "127.0.0.1" || resp.GetPort() == 0 || len(resp.GetPemCert()) != 0 {
		t.Fatalf("ServerCompatResponse %v, want 127.0.0.1, a port and no certificate", resp)
	}
	client := dial(t, resp, insecure.NewCredentials())
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-req", "a", "x-req-bin", "\x00\x01")

	var header, trailer metadata.MD
	req := &conformancev1.UnaryRequest{
		ResponseDefinition: &conformancev1.UnaryResponseDefinition{
			ResponseHeaders:  []*conformancev1.Header{{Name: "x-head", Value: []string{"h"}}},
			ResponseTrailers: []*conformancev1.Header{{Name: "x-tail-bin", Value: []string{"AAE"}}},
			Response:         &conformancev1.UnaryResponseDefinition_ResponseData{ResponseData: []byte("data")},
		},
	}
	got, err := client.Unary(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.GetPayload().GetData()) != "data" {
		t.Errorf("payload data %q, want %q", got.GetPayload().GetData(), "data")
	}
	if v := header.Get("x-head"); len(v) != 1 || v[0] != "h" {
		t.Errorf("header x-head %q, want [h]", v)
	}
	if v := trailer.Get("x-tail-bin"); len(v) != 1 || v[0] != "\x00\x01" {
		t.Errorf("trailer x-tail-bin %q, want the decoded bytes 00 01", v)
	}
	info := got.GetPayload().GetRequestInfo()
	if info.TimeoutMs == nil || info.GetTimeoutMs() <= 0 || info.GetTimeoutMs() > 10000 {
		t.Errorf("request info timeout %v, want the call's deadline", info.TimeoutMs)
	}
	if len(info.GetRequests()) != 1 {
		t.Fatalf("request info has %d requests, want 1", len(info.GetRequests()))
	}
	echoed := &conformancev1.UnaryRequest{}
	if err := info.GetRequests()[0].UnmarshalTo(echoed); err != nil || !proto.Equal(echoed, req) {
		t.Errorf("request info echoes %v (%v), want the request", echoed, err)
	}
	headers := map[string][]string{}
	for _, h := range info.GetRequestHeaders() {
		headers[h.GetName()] = h.GetValue()
	}
	if v := headers["x-req"]; len(v) != 1 || v[0] != "a" {
		t.Errorf("request info header x-req %q, want [a]", v)
	}
	if v := headers["x-req-bin"]; len(v) != 1 || v[0] != "AAE" {
		t.Errorf("request info header x-req-bin %q, want [AAE] (unpadded base64)", v)
	}

	// The receive limit applies.
	_, err = client.Unary(ctx, &conformancev1.UnaryRequest{RequestData: make([]byte, 2048)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("request over the receive limit: %v, want RESOURCE_EXHAUSTED", err)
	}
}

func TestRunMutualTLS(t *testing.T) {
	b := tlstest.Certs()
	cert, key := serverPEM(t)
	resp := startServer(t, &conformancev1.ServerCompatRequest{
		Protocol:      conformancev1.Protocol_PROTOCOL_GRPC,
		HttpVersion:   conformancev1.HTTPVersion_HTTP_VERSION_2,
		UseTls:        true,
		ServerCreds:   &conformancev1.TLSCreds{Cert: cert, Key: key},
		ClientTlsCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.CA.Raw}),
	})
	if !bytes.Equal(resp.GetPemCert(), cert) {
		t.Fatal("ServerCompatResponse does not carry the request's certificate")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(resp.GetPemCert())
	ctx := testContext(t)

	withCert := dial(t, resp, credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{b.Client}}))
	if _, err := withCert.Unary(ctx, &conformancev1.UnaryRequest{}); err != nil {
		t.Errorf("with a client certificate: %v", err)
	}
	withoutCert := dial(t, resp, credentials.NewTLS(&tls.Config{RootCAs: pool}))
	if _, err := withoutCert.Unary(ctx, &conformancev1.UnaryRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("without a client certificate: %v, want UNAVAILABLE", err)
	}
}

func TestStreamsEndWithTheDefinedError(t *testing.T) {
	resp := startServer(t, &conformancev1.ServerCompatRequest{
		Protocol:    conformancev1.Protocol_PROTOCOL_GRPC,
		HttpVersion: conformancev1.HTTPVersion_HTTP_VERSION_2,
	})
	client := dial(t, resp, insecure.NewCredentials())
	ctx := testContext(t)
	def := &conformancev1.StreamResponseDefinition{
		ResponseData: [][]byte{[]byte("one"), []byte("two")},
		Error:        &conformancev1.Error{Code: conformancev1.Code_CODE_ABORTED, Message: proto.String("stop")},
	}

	for _, fullDuplex := range []bool{false, true} {
		stream, err := client.BidiStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := stream.Send(&conformancev1.BidiStreamRequest{ResponseDefinition: def, FullDuplex: fullDuplex}); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		var data []string
		for {
			msg, err := stream.Recv()
			if err != nil {
				if st := status.Convert(err); st.Code() != codes.Aborted || st.Message() != "stop" {
					t.Errorf("full duplex %v: stream ended with %v, want ABORTED: stop", fullDuplex, err)
				}
				break
			}
			data = append(data, string(msg.GetPayload().GetData()))
		}
		if strings.Join(data, ",") != "one,two" {
			t.Errorf("full duplex %v: received %q, want [one two]", fullDuplex, data)
		}
	}

	stream, err := client.ServerStream(ctx, &conformancev1.ServerStreamRequest{ResponseDefinition: &conformancev1.StreamResponseDefinition{Error: def.Error}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	st := status.Convert(err)
	if st.Code() != codes.Aborted || len(st.Details()) != 1 {
		t.Fatalf("server stream without responses ended with %v, details %v; want ABORTED with the request info", err, st.Details())
	}
	if _, ok := st.Details()[0].(*conformancev1.ConformancePayload_RequestInfo); !ok {
		t.Errorf("detail %T, want the request info", st.Details()[0])
	}
}

func TestHeadersMetadataRoundTrip(t *testing.T) {
	headers := []*conformancev1.Header{
		{Name: "X-Text", Value: []string{"a", "b"}},
		{Name: "x-raw-bin", Value: []string{"AAE", "AAEC"}}, // unpadded, and a length needing no padding
		{Name: "x-padded-bin", Value: []string{"AA=="}},
		{Name: "x-invalid-bin", Value: []string{"not base64!"}},
	}
	md := headersToMetadata(headers)
	want := metadata.MD{
		"x-text":        {"a", "b"},
		"x-raw-bin":     {"\x00\x01", "\x00\x01\x02"},
		"x-padded-bin":  {"\x00"},
		"x-invalid-bin": {"not base64!"},
	}
	for k, v := range want {
		if got := md[k]; strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("headersToMetadata: %s = %q, want %q", k, got, v)
		}
	}
	back := map[string][]string{}
	for _, h := range metadataToHeaders(md) {
		back[h.GetName()] = h.GetValue()
	}
	if got := back["x-raw-bin"]; strings.Join(got, "|") != "AAE|AAEC" {
		t.Errorf("metadataToHeaders: x-raw-bin = %q, want unpadded base64", got)
	}
	if md["x-raw-bin"][0] != "\x00\x01" {
		t.Error("metadataToHeaders modified its argument")
	}
}
