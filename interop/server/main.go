package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/h2grpc/h2grpc/server"
)

// shutdownGrace is how long calls in progress may take to finish once a
// signal asks the server to stop; the ones left are then cancelled.
const shutdownGrace = 5 * time.Second

// config is what the command line asks for.
type config struct {
	port     int
	useTLS   bool
	certFile string
	keyFile  string
}

// parseFlags reads grpc-go's interop server flags from args (without the
// program name). Usage and parse errors go to stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.port, "port", 10000, "The server port (0 picks a free one)")
	fs.BoolVar(&cfg.useTLS, "use_tls", false, "Connection uses TLS if true, else plain TCP (h2c)")
	fs.StringVar(&cfg.certFile, "tls_cert_file", "", "The TLS cert file (PEM), required with --use_tls")
	fs.StringVar(&cfg.keyFile, "tls_key_file", "", "The TLS key file (PEM), required with --use_tls")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.port < 0 || cfg.port > 65535 {
		return config{}, fmt.Errorf("--port %d is not a TCP port", cfg.port)
	}
	if cfg.useTLS && (cfg.certFile == "" || cfg.keyFile == "") {
		return config{}, errors.New("--use_tls needs --tls_cert_file and --tls_key_file")
	}
	return cfg, nil
}

// newServer returns an h2grpc server with TestService registered, speaking
// TLS when cfg asks for it.
func newServer(cfg config) (*server.Server, error) {
	var opts []server.Option
	if cfg.useTLS {
		cert, err := tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the TLS certificate: %w", err)
		}
		opts = append(opts, server.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	}
	srv := server.New(opts...)
	testgrpc.RegisterTestServiceServer(srv, testService{})
	return srv, nil
}

// run is the whole program but for the signals: it serves until ctx ends,
// then shuts the server down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	srv, err := newServer(cfg)
	if err != nil {
		return err
	}
	// All interfaces, as grpc-go's interop server listens.
	lis, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.port))
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(lis) }()
	// The runner waits for this line, and reads the port from it.
	if _, err := fmt.Fprintf(stdout, "interop server listening on %v\n", lis.Addr()); err != nil {
		srv.Stop()
		<-serveErr
		return err
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
		fmt.Fprintf(stderr, "interop server: calls still running after %v were cancelled: %v\n", shutdownGrace, err)
	}
	if err := <-serveErr; !errors.Is(err, server.ErrServerStopped) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "interop server:", err)
		os.Exit(1)
	}
}
