// Adapted from connectrpc.com/conformance internal/app/grpcclient
// (client.go and impl.go), Apache-2.0, Copyright 2023-2024 The Connect
// Authors.

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"

	"github.com/h2grpc/h2grpc/client"
	pb "github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
)

// conformanceService is the service the suite's cases call.
const conformanceService = "connectrpc.conformance.v1.ConformanceService"

// userAgent names this client in the requests it sends.
const userAgent = "h2grpc-conformance-client"

// connectTimeout bounds dialling the reference server, as in the grpc-go
// client under test.
const connectTimeout = 5 * time.Second

// invoke runs the case req and returns what the RPC gave: response
// headers, payloads, error and trailers. Its own error means the case
// could not be run (a malformed case, a connection that was never made),
// which the runner reports as a failure of the client.
func invoke(ctx context.Context, req *pb.ClientCompatRequest) (*pb.ClientResponseResult, error) {
	if req.GetService() != conformanceService {
		return nil, fmt.Errorf("service name %s is not a valid service", req.GetService())
	}
	if req.GetRawRequest() != nil {
		return nil, errors.New("raw HTTP requests are not supported by a gRPC client")
	}
	if req.GetUseGetHttpMethod() {
		return nil, errors.New("HTTP GET is for the Connect protocol, not gRPC")
	}
	if p := req.GetProtocol(); p != pb.Protocol_PROTOCOL_GRPC {
		return nil, fmt.Errorf("protocol %s is not supported, only %s", p, pb.Protocol_PROTOCOL_GRPC)
	}
	if c := req.GetCodec(); c != pb.Codec_CODEC_PROTO {
		return nil, fmt.Errorf("codec %s is not supported, only %s", c, pb.Codec_CODEC_PROTO)
	}
	opts, err := dialOptions(req)
	if err != nil {
		return nil, err
	}
	target := net.JoinHostPort(req.GetHost(), strconv.FormatUint(uint64(req.GetPort()), 10))
	conn, err := client.Dial(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", target, err)
	}
	defer conn.Close()

	// If a timeout was specified, the whole call runs under that deadline.
	if req.TimeoutMs != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.GetTimeoutMs())*time.Millisecond)
		defer cancel()
	}
	inv := &invoker{client: pb.NewConformanceServiceClient(conn)}
	switch req.GetMethod() {
	case "Unary":
		if len(req.GetRequestMessages()) != 1 {
			return nil, errors.New("unary calls must specify exactly one request message")
		}
		return inv.unary(ctx, req)
	case "IdempotentUnary":
		return nil, fmt.Errorf("method name %s of service %s is for use with Connect, not gRPC", req.GetMethod(), req.GetService())
	case "ServerStream":
		if len(req.GetRequestMessages()) != 1 {
			return nil, errors.New("server streaming calls must specify exactly one request message")
		}
		return inv.serverStream(ctx, req)
	case "ClientStream":
		return inv.clientStream(ctx, req)
	case "BidiStream":
		return inv.bidiStream(ctx, req)
	case "Unimplemented":
		if len(req.GetRequestMessages()) != 1 {
			return nil, errors.New("unary calls must specify exactly one request message")
		}
		return inv.unimplemented(ctx, req)
	default:
		return nil, fmt.Errorf("method name %s does not exist on service %s", req.GetMethod(), req.GetService())
	}
}

// dialOptions are the options of the Conn a case runs on: TLS when the
// case carries the server's certificate, and as default call options the
// case's compression and receive limit.
func dialOptions(req *pb.ClientCompatRequest) ([]client.Option, error) {
	if v := req.GetHttpVersion(); v != pb.HTTPVersion_HTTP_VERSION_2 {
		return nil, fmt.Errorf("HTTP version %s is not supported, only %s", v, pb.HTTPVersion_HTTP_VERSION_2)
	}
	opts := []client.Option{
		client.WithUserAgent(userAgent),
		client.DialTimeout(connectTimeout),
	}
	if len(req.GetServerTlsCert()) > 0 {
		cfg, err := tlsConfig(req)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(cfg))
	} else if req.GetClientTlsCreds() != nil {
		return nil, errors.New("request indicated TLS client credentials but no server TLS cert provided")
	}
	var callOpts []grpc.CallOption
	name, err := compressorName(req.GetCompression())
	if err != nil {
		return nil, err
	}
	if name != "" {
		callOpts = append(callOpts, grpc.UseCompressor(name))
	}
	// Zero is no limit set: h2grpc's default (4 MiB) stands.
	if n := req.GetMessageReceiveLimit(); n > 0 {
		callOpts = append(callOpts, grpc.MaxCallRecvMsgSize(int(n)))
	}
	if len(callOpts) > 0 {
		opts = append(opts, client.WithDefaultCallOptions(callOpts...))
	}
	return opts, nil
}

// compressorName is the grpc-encoding of c, "" for none. h2grpc has every
// algorithm the gRPC protocol cases use built in; brotli it has not.
func compressorName(c pb.Compression) (string, error) {
	switch c {
	case pb.Compression_COMPRESSION_UNSPECIFIED, pb.Compression_COMPRESSION_IDENTITY:
		return "", nil
	case pb.Compression_COMPRESSION_GZIP:
		return "gzip", nil
	case pb.Compression_COMPRESSION_DEFLATE:
		return "deflate", nil
	case pb.Compression_COMPRESSION_ZSTD:
		return "zstd", nil
	case pb.Compression_COMPRESSION_SNAPPY:
		return "snappy", nil
	default:
		return "", fmt.Errorf("compression %s is not supported", c)
	}
}

// tlsConfig trusts the case's server certificate (self-signed, so it is
// its own CA) and presents the client certificate when the case has one.
// The name verified is the host dialled: the reference server's
// certificate covers localhost, 127.0.0.1 and ::1.
func tlsConfig(req *pb.ClientCompatRequest) (*tls.Config, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(req.GetServerTlsCert()) {
		return nil, errors.New("failed to parse the server's TLS certificate")
	}
	cfg := &tls.Config{
		RootCAs:    roots,
		ServerName: req.GetHost(),
		MinVersion: tls.VersionTLS12,
	}
	if creds := req.GetClientTlsCreds(); creds != nil {
		cert, err := tls.X509KeyPair(creds.GetCert(), creds.GetKey())
		if err != nil {
			return nil, fmt.Errorf("parsing the client's TLS certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
