// Adapted from connectrpc.com/conformance internal/app/grpcclient
// (client.go), Apache-2.0, Copyright 2023-2024 The Connect Authors.

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
)

// maxCaseSize bounds one length-prefixed message read from stdin, so that
// a corrupt prefix fails the run instead of allocating gigabytes.
const maxCaseSize = 256 << 20

// main leaves SIGTERM to Go's default, as the suite's grpc-go client
// does: the process ends at once, and with it the calls in progress.
func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "conformance client:", err)
		os.Exit(1)
	}
}

// run reads ClientCompatRequests from in until EOF, runs each on a
// goroutine of its own (at most -p at once) and writes a
// ClientCompatResponse for each to out. It returns once every case has
// answered; its error is about reading or writing the streams, never about
// an RPC, whose outcome is part of the response.
func run(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	parallel := fs.Uint("p", uint(runtime.GOMAXPROCS(0))*4, "the number of parallel RPCs to issue")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("this command does not accept any positional arguments")
	}
	if *parallel == 0 {
		return errors.New("invalid parallelism; must be greater than zero")
	}

	w := &responseWriter{out: out}
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		req := &pb.ClientCompatRequest{}
		if err := readDelimited(in, req); err != nil {
			if errors.Is(err, io.EOF) {
				return w.failure()
			}
			return err
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := w.failure(); err != nil {
			return err // stdout is broken: no point starting more
		}
		wg.Go(func() {
			defer func() { <-sem }()
			w.write(respond(ctx, req))
		})
	}
}

// respond runs one case and wraps its outcome. An error from invoke is a
// failure of the client itself (a bad case, a connection never made), not
// of the RPC: it goes in the response's error result.
func respond(ctx context.Context, req *pb.ClientCompatRequest) *pb.ClientCompatResponse {
	resp := &pb.ClientCompatResponse{TestName: req.GetTestName()}
	result, err := invoke(ctx, req)
	if err != nil {
		resp.Result = &pb.ClientCompatResponse_Error{
			Error: &pb.ClientErrorResult{Message: err.Error()},
		}
	} else {
		resp.Result = &pb.ClientCompatResponse_Response{Response: result}
	}
	return resp
}

// responseWriter writes length-prefixed messages to out for any number of
// goroutines, one whole message at a time, and remembers the first error.
type responseWriter struct {
	mu  sync.Mutex
	out io.Writer
	err error
}

func (w *responseWriter) write(m proto.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	w.err = writeDelimited(w.out, m)
}

func (w *responseWriter) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// readDelimited reads one message prefixed with its length (4 bytes, big
// endian). It returns io.EOF only at a clean end, between messages.
func readDelimited(r io.Reader, m proto.Message) error {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("reading a message's length: %w", err)
		}
		return err
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n > maxCaseSize {
		return fmt.Errorf("message of %d bytes exceeds the limit of %d", n, maxCaseSize)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading a message of %d bytes: %w", n, err)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("unmarshalling %T: %w", m, err)
	}
	return nil
}

// writeDelimited writes m prefixed with its length, in one write.
func writeDelimited(w io.Writer, m proto.Message) error {
	data, err := proto.MarshalOptions{}.MarshalAppend(make([]byte, 4, 4+proto.Size(m)), m)
	if err != nil {
		return fmt.Errorf("marshalling %T: %w", m, err)
	}
	binary.BigEndian.PutUint32(data, uint32(len(data)-4))
	_, err = w.Write(data)
	return err
}
