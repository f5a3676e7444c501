package middleware_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// logSink collects log entries, each reduced to what the tests assert on:
// "<component> <msg> <service>/<method> <method type>[ code=<code>]".
type logSink struct {
	mu     sync.Mutex
	lines  []string
	errors []string // the grpc.error field of the entries that have one
}

func (s *logSink) logger() logging.Logger {
	return logging.LoggerFunc(func(_ context.Context, _ logging.Level, msg string, fields ...any) {
		f := map[string]any{}
		for i := 0; i+1 < len(fields); i += 2 {
			f[fmt.Sprint(fields[i])] = fields[i+1]
		}
		line := fmt.Sprintf("%v %s %v/%v %v", f["grpc.component"], msg, f["grpc.service"], f["grpc.method"], f["grpc.method_type"])
		if code, ok := f["grpc.code"]; ok {
			line += fmt.Sprintf(" code=%v", code)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lines = append(s.lines, line)
		if e, ok := f["grpc.error"]; ok {
			s.errors = append(s.errors, fmt.Sprint(e))
		}
	})
}

// take returns the entries and error fields so far and forgets them.
func (s *logSink) take() (lines, errors []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines, errors = s.lines, s.errors
	s.lines, s.errors = nil, nil
	return lines, errors
}

// allEvents logs each message besides the start and the end of a call.
var allEvents = logging.WithLogOnEvents(logging.StartCall, logging.PayloadReceived, logging.PayloadSent, logging.FinishCall)

// logged serves and dials p with the logging interceptors on both sides,
// each side logging into its own sink.
func logged(t *testing.T, p pairing) (c pb.ExampleClient, serverLog, clientLog *logSink) {
	serverLog, clientLog = &logSink{}, &logSink{}
	addr := p.serve(t, &service{}, serverInts{
		unary:  []grpc.UnaryServerInterceptor{logging.UnaryServerInterceptor(serverLog.logger(), allEvents)},
		stream: []grpc.StreamServerInterceptor{logging.StreamServerInterceptor(serverLog.logger(), allEvents)},
	})
	c = p.dial(t, addr, clientInts{
		unary:  []grpc.UnaryClientInterceptor{logging.UnaryClientInterceptor(clientLog.logger(), allEvents)},
		stream: []grpc.StreamClientInterceptor{logging.StreamClientInterceptor(clientLog.logger(), allEvents)},
	})
	return c, serverLog, clientLog
}

// call makes one call and returns its status.
type call func(context.Context, pb.ExampleClient) error

func unaryWith(value string) call {
	return func(ctx context.Context, c pb.ExampleClient) error {
		_, err := unaryCall(ctx, c, value)
		return err
	}
}

func serverStreamWith(value string, n int32) call {
	return func(ctx context.Context, c pb.ExampleClient) error {
		_, err := serverStreamCall(ctx, c, value, n)
		return err
	}
}

func clientStreamWith(values ...string) call {
	return func(ctx context.Context, c pb.ExampleClient) error {
		_, err := clientStreamCall(ctx, c, values...)
		return err
	}
}

func bidiWith(values ...string) call {
	return func(ctx context.Context, c pb.ExampleClient) error {
		_, err := bidiCall(ctx, c, values...)
		return err
	}
}

// The logging interceptors see every call and every message of it, on the
// server and on the client: the call's start, each request and reply, and
// its end with the status code, for each pattern, succeeding or failing.
// Each side's entries are complete when the client has the call's status.
func TestLogging(t *testing.T) {
	const (
		unary        = "nameko.example/unary_unary unary"
		serverStream = "nameko.example/unary_stream server_stream"
		clientStream = "nameko.example/stream_unary client_stream"
		bidi         = "nameko.example/stream_stream bidi_stream"
	)
	cases := []struct {
		name   string
		call   call
		method string
		code   codes.Code
		server []string // what the server logs, in order
		client []string
	}{
		{
			"unary", unaryWith("a"), unary, codes.OK,
			[]string{"started call", "request received", "response sent", "finished call"},
			[]string{"started call", "request sent", "response received", "finished call"},
		},
		{
			"unary failing", unaryWith("fail"), unary, codes.InvalidArgument,
			[]string{"started call", "request received", "finished call"},
			[]string{"started call", "request sent", "finished call"},
		},
		{
			"server stream", serverStreamWith("a", 2), serverStream, codes.OK,
			[]string{"started call", "request received", "response sent", "response sent", "finished call"},
			[]string{"started call", "request sent", "response received", "response received", "finished call"},
		},
		{
			"server stream failing", serverStreamWith("fail", 2), serverStream, codes.InvalidArgument,
			[]string{"started call", "request received", "finished call"},
			[]string{"started call", "request sent", "finished call"},
		},
		{
			"client stream", clientStreamWith("a", "b"), clientStream, codes.OK,
			[]string{"started call", "request received", "request received", "response sent", "finished call"},
			[]string{"started call", "request sent", "request sent", "response received", "finished call"},
		},
		{
			"client stream failing", clientStreamWith("a", "fail"), clientStream, codes.InvalidArgument,
			[]string{"started call", "request received", "request received", "finished call"},
			[]string{"started call", "request sent", "request sent", "finished call"},
		},
		{
			"bidi", bidiWith("a", "b"), bidi, codes.OK,
			[]string{"started call", "request received", "response sent", "request received", "response sent", "finished call"},
			[]string{"started call", "request sent", "request sent", "response received", "response received", "finished call"},
		},
		{
			"bidi failing", bidiWith("a", "fail"), bidi, codes.InvalidArgument,
			[]string{"started call", "request received", "response sent", "request received", "finished call"},
			[]string{"started call", "request sent", "request sent", "response received", "finished call"},
		},
	}
	// expect spells out one side's entries.
	expect := func(component, method string, code codes.Code, events []string) []string {
		var lines []string
		for _, e := range events {
			line := component + " " + e + " " + method
			if e == "finished call" {
				line += " code=" + code.String()
			}
			lines = append(lines, line)
		}
		return lines
	}
	eachPairing(t, func(t *testing.T, p pairing) {
		c, serverLog, clientLog := logged(t, p)
		ctx := testContext(t)
		for _, tc := range cases {
			err := tc.call(ctx, c)
			if got := status.Code(err); got != tc.code {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
			}
			got, _ := serverLog.take()
			if want := expect("server", tc.method, tc.code, tc.server); !slices.Equal(got, want) {
				t.Errorf("%s: the server logged\n\t%q\nwant\n\t%q", tc.name, got, want)
			}
			got, _ = clientLog.take()
			if want := expect("client", tc.method, tc.code, tc.client); !slices.Equal(got, want) {
				t.Errorf("%s: the client logged\n\t%q\nwant\n\t%q", tc.name, got, want)
			}
		}
	})
}

// The grpc.error field of a failed call's entry is the error's text,
// which reads as grpc-go's on both sides ("code = InvalidArgument").
func TestLoggingErrorField(t *testing.T) {
	const want = "rpc error: code = InvalidArgument desc = bad value"
	eachPairing(t, func(t *testing.T, p pairing) {
		c, serverLog, clientLog := logged(t, p)
		ctx := testContext(t)
		if _, err := unaryCall(ctx, c, "fail"); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("unary: %v", err)
		}
		if _, err := serverStreamCall(ctx, c, "fail", 1); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("server stream: %v", err)
		}
		for side, log := range map[string]*logSink{"server": serverLog, "client": clientLog} {
			_, errs := log.take()
			if !slices.Equal(errs, []string{want, want}) {
				t.Errorf("the %s logged grpc.error\n\t%q\nwant twice\n\t%q", side, errs, want)
			}
		}
	})
}
