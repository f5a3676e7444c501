package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/internal/tlstest"
	"github.com/h2grpc/h2grpc/server"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// tlsDescribePeer is a unary handler that answers with what it sees of its
// client's connection, through grpc-go's peer and through the Call, so a
// test compares one string.
func tlsDescribePeer(ctx context.Context, _ *pb.ExampleRequest) (*pb.ExampleReply, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, grpcstatus.Error(codes.Internal, "no peer")
	}
	call := server.CallFromContext(ctx)
	desc := fmt.Sprintf("peer=%s call=%s scheme=%s",
		tlsDescribeAuth(p.AuthInfo), tlsDescribeAuth(call.AuthInfo()), call.RequestHeader().Scheme)
	return &pb.ExampleReply{Message: desc}, nil
}

func tlsDescribeAuth(ai credentials.AuthInfo) string {
	if ai == nil {
		return "none"
	}
	ti, ok := ai.(credentials.TLSInfo)
	if !ok {
		return fmt.Sprintf("%T", ai)
	}
	cn := "-"
	if certs := ti.State.PeerCertificates; len(certs) > 0 {
		cn = certs[0].Subject.CommonName
	}
	return fmt.Sprintf("%s/%s/%s/%q", ti.AuthType(), ti.SecurityLevel, ti.State.NegotiatedProtocol, cn)
}

// tlsStart serves the example service, answering unary calls with
// tlsDescribePeer.
func tlsStart(t *testing.T, opts ...server.Option) string {
	t.Helper()
	_, addr := testserver.Start(t, testserver.Hooks{Unary: tlsDescribePeer}, opts...)
	return addr
}

// tlsClient is grpc-go's client of the example service at addr.
func tlsClient(t *testing.T, addr string, creds credentials.TransportCredentials) pb.ExampleClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewExampleClient(cc)
}

// tlsCall makes one unary call and returns the handler's description.
func tlsCall(t *testing.T, c pb.ExampleClient) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp, err := c.UnaryUnary(ctx, &pb.ExampleRequest{})
	return resp.GetMessage(), err
}

// tlsAssertClosed reads from nc until the server closes it and fails the
// test if the server sent anything or had not closed it within a generous
// bound.
func tlsAssertClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, nc)
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server did not close the connection: %v", err)
	}
	if n > 0 {
		t.Errorf("the server sent %d bytes before closing", n)
	}
}

func TestTLSUnary(t *testing.T) {
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(false)))
	got, err := tlsCall(t, tlsClient(t, addr, credentials.NewTLS(certs.ClientConfig(false))))
	if err != nil {
		t.Fatal(err)
	}
	const want = `peer=tls/PrivacyAndIntegrity/h2/"-" call=tls/PrivacyAndIntegrity/h2/"-" scheme=https`
	if got != want {
		t.Errorf("handler saw\n%s\nwant\n%s", got, want)
	}
}

func TestTLSCredsIsGRPCStyle(t *testing.T) {
	// The same as TLS, spelled as code written for grpc-go spells it.
	certs := tlstest.Certs()
	addr := tlsStart(t, server.Creds(credentials.NewTLS(certs.ServerConfig(false))))
	got, err := tlsCall(t, tlsClient(t, addr, credentials.NewTLS(certs.ClientConfig(true))))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%q", tlstest.ClientCommonName); !strings.Contains(got, "peer=tls/PrivacyAndIntegrity/h2/"+want) {
		t.Errorf("handler saw %s, want the client certificate %s", got, want)
	}
}

func TestTLSPeerIsPlainOnH2C(t *testing.T) {
	addr := tlsStart(t)
	got, err := tlsCall(t, tlsClient(t, addr, insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	if want := "peer=none call=none scheme=http"; got != want {
		t.Errorf("handler saw %s, want %s", got, want)
	}
}

func TestTLSMutual(t *testing.T) {
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(true)))

	got, err := tlsCall(t, tlsClient(t, addr, credentials.NewTLS(certs.ClientConfig(true))))
	if err != nil {
		t.Fatal(err)
	}
	auth := fmt.Sprintf("tls/PrivacyAndIntegrity/h2/%q", tlstest.ClientCommonName)
	if want := "peer=" + auth + " call=" + auth + " scheme=https"; got != want {
		t.Errorf("handler saw\n%s\nwant\n%s", got, want)
	}

	_, err = tlsCall(t, tlsClient(t, addr, credentials.NewTLS(certs.ClientConfig(false))))
	if code := grpcstatus.Code(err); code != codes.Unavailable {
		t.Errorf("a client without a certificate got %v (%v), want UNAVAILABLE", code, err)
	}
}

func TestTLSClientWithoutH2IsRefused(t *testing.T) {
	certs := tlstest.Certs()
	// The server also offers http/1.1, so that a client asking for it
	// negotiates it: the server's own check must then refuse it, since
	// credentials.NewTLS only refuses a connection with no protocol.
	srvCfg := certs.ServerConfig(false)
	srvCfg.NextProtos = []string{"h2", "http/1.1"}
	addr := tlsStart(t, server.TLS(srvCfg))

	for _, tc := range []struct {
		name   string
		protos []string
		// handshakeErr is the error the client's handshake fails with, if
		// crypto/tls fails it; otherwise the server must close the
		// connection after the handshake, without serving HTTP/2.
		handshakeErr string
	}{
		{name: "no ALPN"},
		{name: "http/1.1", protos: []string{"http/1.1"}},
		{name: "unknown protocol", protos: []string{"spdy/3"}, handshakeErr: "no application protocol"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := certs.ClientConfig(false)
			cfg.NextProtos = tc.protos
			d := &net.Dialer{Timeout: 5 * time.Second}
			nc, err := tls.DialWithDialer(d, "tcp", addr, cfg)
			if tc.handshakeErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.handshakeErr) {
					t.Fatalf("handshake error %v, want %q", err, tc.handshakeErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if p := nc.ConnectionState().NegotiatedProtocol; p == "h2" {
				t.Fatalf("negotiated %q", p)
			}
			tlsAssertClosed(t, nc)
		})
	}

	// The server still serves clients that do negotiate h2.
	if _, err := tlsCall(t, tlsClient(t, addr, credentials.NewTLS(certs.ClientConfig(false)))); err != nil {
		t.Fatal(err)
	}
}

func TestTLSServerRefusesH2C(t *testing.T) {
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(false)))
	_, err := tlsCall(t, tlsClient(t, addr, insecure.NewCredentials()))
	if code := grpcstatus.Code(err); code != codes.Unavailable {
		t.Errorf("an h2c client got %v (%v), want UNAVAILABLE", code, err)
	}
	if _, err := tlsCall(t, tlsClient(t, addr, credentials.NewTLS(certs.ClientConfig(false)))); err != nil {
		t.Fatalf("a TLS client after the h2c one: %v", err)
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(false)), server.ConnectionTimeout(200*time.Millisecond))
	silent, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if _, err := tlsCall(t, tlsClient(t, addr, credentials.NewTLS(certs.ClientConfig(false)))); err != nil {
		t.Fatal(err)
	}
	tlsAssertClosed(t, silent)
}

func TestTLSSlowHandshakeDoesNotBlockOthers(t *testing.T) {
	// With the default timeout of two minutes, a client that connects
	// and says nothing must not hold up the next client, nor Stop.
	certs := tlstest.Certs()
	srv, addr := testserver.Start(t, testserver.Hooks{Unary: tlsDescribePeer}, server.TLS(certs.ServerConfig(false)))
	var silent []net.Conn
	for range 3 {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		silent = append(silent, nc)
	}
	if _, err := tlsCall(t, tlsClient(t, addr, credentials.NewTLS(certs.ClientConfig(false)))); err != nil {
		t.Fatal(err)
	}

	stopped := make(chan struct{})
	go func() {
		srv.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop waited for the handshakes")
	}
	for _, nc := range silent {
		tlsAssertClosed(t, nc)
	}
}
