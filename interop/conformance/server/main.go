package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	conformancev1 "github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
	"github.com/h2grpc/h2grpc/server"
)

// shutdownGrace is how long calls in progress may take to finish once a
// signal asks the server to stop; the ones left are then cancelled.
const shutdownGrace = 5 * time.Second

// maxCompatRequest bounds the ServerCompatRequest read from stdin: it holds
// two certificates and a key, a few kilobytes.
const maxCompatRequest = 1 << 20

// readMessage reads one message, prefixed with its length (4 bytes,
// big-endian), from r into m.
func readMessage(r io.Reader, m proto.Message) error {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n > maxCompatRequest {
		return fmt.Errorf("message of %d bytes, more than %d", n, maxCompatRequest)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return proto.Unmarshal(data, m)
}

// writeMessage writes m to w, prefixed with its length (4 bytes,
// big-endian), in one write.
func writeMessage(w io.Writer, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	buf := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(data)), uint32(len(data)))
	_, err = w.Write(append(buf, data...))
	return err
}

// serverOptions returns the options of the server req asks for, and the
// certificate (PEM) clients must trust, nil over h2c.
func serverOptions(req *conformancev1.ServerCompatRequest) ([]server.Option, []byte, error) {
	if req.GetProtocol() != conformancev1.Protocol_PROTOCOL_GRPC {
		return nil, nil, fmt.Errorf("protocol %v is not supported, only %v", req.GetProtocol(), conformancev1.Protocol_PROTOCOL_GRPC)
	}
	if req.GetHttpVersion() != conformancev1.HTTPVersion_HTTP_VERSION_2 {
		return nil, nil, fmt.Errorf("HTTP version %v is not supported, only %v", req.GetHttpVersion(), conformancev1.HTTPVersion_HTTP_VERSION_2)
	}
	var opts []server.Option
	if n := req.GetMessageReceiveLimit(); n > 0 {
		opts = append(opts, server.MaxRecvMsgSize(int(n)))
	}
	if !req.GetUseTls() {
		return opts, nil, nil
	}
	creds := req.GetServerCreds()
	cert, err := tls.X509KeyPair(creds.GetCert(), creds.GetKey())
	if err != nil {
		return nil, nil, fmt.Errorf("the server certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if ca := req.GetClientTlsCert(); len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, nil, errors.New("the client certificate: no PEM certificate found")
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return append(opts, server.TLS(cfg)), creds.GetCert(), nil
}

// run is the whole program but for the signals: it reads the request from
// stdin, starts the server, answers on stdout and serves until ctx ends,
// then shuts the server down gracefully.
func run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	req := &conformancev1.ServerCompatRequest{}
	if err := readMessage(stdin, req); err != nil {
		return fmt.Errorf("reading the ServerCompatRequest: %w", err)
	}
	opts, pemCert, err := serverOptions(req)
	if err != nil {
		return err
	}
	srv := server.New(opts...)
	conformancev1.RegisterConformanceServiceServer(srv, conformanceServer{})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	addr := lis.Addr().(*net.TCPAddr)
	resp := &conformancev1.ServerCompatResponse{
		Host:    addr.IP.String(),
		Port:    uint32(addr.Port),
		PemCert: pemCert,
	}
	if err := writeMessage(stdout, resp); err != nil {
		srv.Stop()
		<-serveErr
		return fmt.Errorf("writing the ServerCompatResponse: %w", err)
	}

	select {
	case err := <-serveErr:
		srv.Stop() // the listener failed: end the connections too
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "conformance server: calls still running after %v were cancelled: %v\n", shutdownGrace, err)
	}
	if err := <-serveErr; !errors.Is(err, server.ErrServerStopped) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance server:", err)
		os.Exit(1)
	}
}
