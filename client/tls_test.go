package client_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/h2grpc/h2grpc/client"
	"github.com/h2grpc/h2grpc/internal/testserver"
	"github.com/h2grpc/h2grpc/internal/tlstest"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/server"
	"github.com/h2grpc/h2grpc/status"
	pb "github.com/h2grpc/h2grpc/testdata/example"
)

// tlsDescribe is a unary handler that answers with what it sees of the
// request and its client's connection, so a test compares one string:
// the :scheme, the :authority, the client certificate's common name ("-"
// without one, "none" on h2c) and the authorization header.
func tlsDescribe(ctx context.Context, _ *pb.ExampleRequest) (*pb.ExampleReply, error) {
	call := server.CallFromContext(ctx)
	if call == nil {
		return nil, grpcstatus.Error(codes.Internal, "no call in the handler's context")
	}
	h := call.RequestHeader()
	md, _ := metadata.FromIncomingContext(ctx)
	desc := fmt.Sprintf("scheme=%s authority=%s cn=%s auth=%s",
		h.Scheme, h.Authority, tlsClientCN(call.AuthInfo()), strings.Join(md.Get("authorization"), ","))
	return &pb.ExampleReply{Message: desc}, nil
}

// tlsClientCN is the common name of the certificate a TLS peer presented.
func tlsClientCN(ai credentials.AuthInfo) string {
	ti, ok := ai.(credentials.TLSInfo)
	if !ok {
		return "none"
	}
	if certs := ti.State.PeerCertificates; len(certs) > 0 {
		return certs[0].Subject.CommonName
	}
	return "-"
}

// tlsStart serves the example service on h2grpc, answering unary calls
// with tlsDescribe.
func tlsStart(t *testing.T, opts ...server.Option) string {
	t.Helper()
	_, addr := testserver.Start(t, testserver.Hooks{Unary: tlsDescribe}, opts...)
	return addr
}

// tlsContext is the context of one test's calls.
func tlsContext(t *testing.T) context.Context {
	return testserver.Context(t, 10*time.Second)
}

// tlsUnary makes one unary call through the generated client and returns
// the reply's message and the server's peer as grpc.Peer reports it.
func tlsUnary(ctx context.Context, c *client.Conn, opts ...grpc.CallOption) (string, *peer.Peer, error) {
	var p peer.Peer
	resp, err := pb.NewExampleClient(c).UnaryUnary(ctx, &pb.ExampleRequest{Value: "v"}, append(opts, grpc.Peer(&p))...)
	return resp.GetMessage(), &p, err
}

// tlsCheckPeer fails the test unless p describes a TLS connection on
// which h2 was negotiated.
func tlsCheckPeer(t *testing.T, p *peer.Peer) {
	t.Helper()
	if p == nil {
		t.Fatal("no peer")
	}
	if p.Addr == nil {
		t.Error("the peer has no address")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		t.Fatalf("peer AuthInfo is %T, want credentials.TLSInfo", p.AuthInfo)
	}
	if got := ti.State.NegotiatedProtocol; got != "h2" {
		t.Errorf("negotiated protocol %q, want h2", got)
	}
	if ti.SecurityLevel != credentials.PrivacyAndIntegrity {
		t.Errorf("security level %v, want PrivacyAndIntegrity", ti.SecurityLevel)
	}
	if !ti.State.HandshakeComplete {
		t.Error("the handshake is not complete")
	}
}

// tlsWantCode fails the test unless err has code want; it returns err's
// message. Calls fail with errors grpc-go's status package reads, Dial
// with h2grpc's status (as TestDialClosedPort checks it): both are read.
func tlsWantCode(t *testing.T, err error, want codes.Code) string {
	t.Helper()
	code, msg := codes.Code(status.CodeOf(err)), status.Convert(err).Message()
	if st, ok := grpcstatus.FromError(err); ok {
		code, msg = st.Code(), st.Message()
	}
	if code != want {
		t.Fatalf("got %v (%v), want %v", code, err, want)
	}
	return msg
}

func TestTLSToH2GRPCServer(t *testing.T) {
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(false)))
	ctx := tlsContext(t)
	c := dial(t, addr, client.WithTLS(certs.ClientConfig(false)))

	got, p, err := tlsUnary(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := "scheme=https authority=" + addr + " cn=- auth="; got != want {
		t.Errorf("handler saw %q, want %q", got, want)
	}
	tlsCheckPeer(t, p)

	s, err := pb.NewExampleClient(c).StreamStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := peer.FromContext(s.Context())
	if !ok {
		t.Fatal("no peer in the stream's context")
	}
	tlsCheckPeer(t, sp)
	for _, v := range []string{"a", "b", "c"} {
		if err := s.Send(&pb.ExampleRequest{Value: v}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.Message != v {
			t.Errorf("bidi reply %q, want %q", r.Message, v)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Errorf("end of the bidi call: %v, want io.EOF", err)
	}
}

// tlsGRPCService is the example service for grpc-go's server: its unary
// method answers with what tlsDescribe would, as far as grpc-go tells.
type tlsGRPCService struct {
	pb.UnimplementedExampleServer
}

func (tlsGRPCService) UnaryUnary(ctx context.Context, r *pb.ExampleRequest) (*pb.ExampleReply, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, grpcstatus.Error(codes.Internal, "no peer")
	}
	proto := "-"
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		proto = ti.State.NegotiatedProtocol
	}
	return &pb.ExampleReply{Message: fmt.Sprintf("%s cn=%s proto=%s", r.Value, tlsClientCN(p.AuthInfo), proto)}, nil
}

func TestTLSToGRPCGoServer(t *testing.T) {
	certs := tlstest.Certs()
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerConfig(false))))
	pb.RegisterExampleServer(srv, tlsGRPCService{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	ctx := tlsContext(t)
	c := dial(t, lis.Addr().String(), client.WithTLS(certs.ClientConfig(true)))
	got, p, err := tlsUnary(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := "v cn=" + tlstest.ClientCommonName + " proto=h2"; got != want {
		t.Errorf("grpc-go's handler saw %q, want %q", got, want)
	}
	tlsCheckPeer(t, p)
}

func TestTLSMutual(t *testing.T) {
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(true)))

	t.Run("with a client certificate", func(t *testing.T) {
		c := dial(t, addr, client.WithTLS(certs.ClientConfig(true)))
		got, p, err := tlsUnary(tlsContext(t), c)
		if err != nil {
			t.Fatal(err)
		}
		if want := "scheme=https authority=" + addr + " cn=" + tlstest.ClientCommonName + " auth="; got != want {
			t.Errorf("handler saw %q, want %q", got, want)
		}
		tlsCheckPeer(t, p)
	})

	t.Run("without one", func(t *testing.T) {
		// With TLS 1.3 the client's side of the handshake ends before the
		// server has checked the client's certificate, so the refusal may
		// only reach the first call.
		c, err := client.Dial(addr, client.WithTLS(certs.ClientConfig(false)))
		if err != nil {
			tlsWantCode(t, err, codes.Unavailable)
			return
		}
		t.Cleanup(func() { c.Close() })
		_, _, err = tlsUnary(tlsContext(t), c)
		tlsWantCode(t, err, codes.Unavailable)
	})
}

func TestTLSServerName(t *testing.T) {
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(false)))

	// The server certificate covers localhost, 127.0.0.1, ::1 and
	// foo.test.google.fr: the name verified is the authority's host.
	for _, tc := range []struct {
		name      string
		authority string // WithAuthority's; none when empty
		want      string // the :authority the handler sees
		sni       string // the server name of the handshake
	}{
		{name: "address", want: addr},
		{name: "authority", authority: "foo.test.google.fr", want: "foo.test.google.fr", sni: "foo.test.google.fr"},
		{name: "authority with port", authority: "foo.test.google.fr:443", want: "foo.test.google.fr:443", sni: "foo.test.google.fr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []client.Option{client.WithTLS(certs.ClientConfig(false))}
			if tc.authority != "" {
				opts = append(opts, client.WithAuthority(tc.authority))
			}
			c := dial(t, addr, opts...)
			got, p, err := tlsUnary(tlsContext(t), c)
			if err != nil {
				t.Fatal(err)
			}
			if want := "scheme=https authority=" + tc.want + " cn=- auth="; got != want {
				t.Errorf("handler saw %q, want %q", got, want)
			}
			tlsCheckPeer(t, p)
			// The SNI sent: the authority's host, none for an IP address.
			if sn := p.AuthInfo.(credentials.TLSInfo).State.ServerName; sn != tc.sni {
				t.Errorf("server name %q, want %q", sn, tc.sni)
			}
		})
	}

	t.Run("wrong authority", func(t *testing.T) {
		_, err := client.Dial(addr, client.WithTLS(certs.ClientConfig(false)), client.WithAuthority("wrong.example"))
		msg := tlsWantCode(t, err, codes.Unavailable)
		if !strings.Contains(msg, "wrong.example") {
			t.Errorf("error %q does not name the host verified", msg)
		}
	})
}

func TestTLSConfigServerName(t *testing.T) {
	// WithTLS documents that the server name comes from the authority
	// "unless cfg sets one", as in grpc-go, where a ServerName in the
	// configuration becomes the authority (and so the name verified).
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(false)))
	dialer := func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}

	t.Run("covered name, uncovered address", func(t *testing.T) {
		// The target's host is not in the certificate, the configured
		// server name is: the handshake must verify the latter.
		cfg := certs.ClientConfig(false)
		cfg.ServerName = "foo.test.google.fr"
		c, err := client.Dial("unlisted.example:443", client.WithTLS(cfg), client.WithContextDialer(dialer))
		if err != nil {
			t.Fatalf("cfg.ServerName %q was not the name verified: %v", cfg.ServerName, err)
		}
		defer c.Close()
		if _, p, err := tlsUnary(tlsContext(t), c); err != nil {
			t.Fatal(err)
		} else {
			tlsCheckPeer(t, p)
		}
	})

	t.Run("uncovered name, covered address", func(t *testing.T) {
		// The name the user pinned must be the one verified, even when the
		// address dialled would pass.
		cfg := certs.ClientConfig(false)
		cfg.ServerName = "wrong.example"
		c, err := client.Dial(addr, client.WithTLS(cfg))
		if err == nil {
			c.Close()
			t.Fatalf("dialled %s with cfg.ServerName %q: connected, want UNAVAILABLE (certificate name mismatch)", addr, cfg.ServerName)
		}
		tlsWantCode(t, err, codes.Unavailable)
	})
}

// tlsNoH2Server is a TLS server that completes handshakes offering
// nextProtos by ALPN (none when nil), then holds each connection, reading
// until the client closes it. It stops when the test ends.
func tlsNoH2Server(t *testing.T, nextProtos []string) string {
	t.Helper()
	cfg := &tls.Config{
		Certificates: []tls.Certificate{tlstest.Certs().Server},
		NextProtos:   nextProtos,
		MinVersion:   tls.VersionTLS12,
	}
	lis, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				nc.Close()
				return
			}
			conns = append(conns, nc)
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				io.Copy(io.Discard, nc) // the handshake, then whatever comes
			}()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		closed = true
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return lis.Addr().String()
}

func TestTLSServerWithoutH2(t *testing.T) {
	certs := tlstest.Certs()
	for _, tc := range []struct {
		name         string
		serverProtos []string
		clientProtos []string // besides h2, which credentials.NewTLS adds
		// want is what the error must mention, one of them at least.
		want []string
	}{
		{
			// crypto/tls's server fails the handshake of a client whose
			// protocols it lacks, with a "no application protocol" alert.
			name:         "http/1.1 only",
			serverProtos: []string{"http/1.1"},
			want:         []string{"ALPN", "h2", "application protocol"},
		},
		{
			// The client offers http/1.1 too and the server picks it: the
			// handshake succeeds, Conn's own check must refuse it.
			name:         "http/1.1 chosen",
			serverProtos: []string{"http/1.1"},
			clientProtos: []string{"http/1.1"},
			want:         []string{"ALPN", "h2"},
		},
		{
			// No ALPN at all: the handshake succeeds with no protocol.
			name: "no ALPN",
			want: []string{"ALPN", "h2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tlsNoH2Server(t, tc.serverProtos)
			cfg := certs.ClientConfig(false)
			cfg.NextProtos = tc.clientProtos
			c, err := client.Dial(addr, client.WithTLS(cfg), client.DialTimeout(5*time.Second))
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded, want UNAVAILABLE")
			}
			msg := tlsWantCode(t, err, codes.Unavailable)
			found := false
			for _, w := range tc.want {
				found = found || strings.Contains(msg, w)
			}
			if !found {
				t.Errorf("error %q mentions none of %q", msg, tc.want)
			}
			// One status, not a status's text inside another's.
			if strings.Contains(msg, "rpc error:") {
				t.Errorf("error message %q nests another status", msg)
			}
		})
	}
}

func TestTLSToH2CServer(t *testing.T) {
	// The h2c server reads the ClientHello as a bad preface and closes
	// the connection: the handshake fails at once, not at the timeout.
	certs := tlstest.Certs()
	addr := tlsStart(t)
	start := time.Now()
	c, err := client.Dial(addr, client.WithTLS(certs.ClientConfig(false)), client.DialTimeout(5*time.Second))
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded, want UNAVAILABLE")
	}
	tlsWantCode(t, err, codes.Unavailable)
	t.Logf("failed after %v: %v", time.Since(start), err)
}

// tlsBearer is per-RPC credentials that require transport security; it
// records the audience it was asked for.
type tlsBearer struct {
	uri atomic.Value // string
}

func (b *tlsBearer) GetRequestMetadata(_ context.Context, uri ...string) (map[string]string, error) {
	b.uri.Store(strings.Join(uri, ","))
	return map[string]string{"authorization": "Bearer x"}, nil
}

func (*tlsBearer) RequireTransportSecurity() bool { return true }

var _ credentials.PerRPCCredentials = (*tlsBearer)(nil)

func TestTLSPerRPCCredentials(t *testing.T) {
	// Their refusal on h2c is TestPerRPCCredentials's.
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(false)))
	want := "scheme=https authority=" + addr + " cn=- auth=Bearer x"
	audience := "https://" + addr + "/nameko.example"

	t.Run("dial option", func(t *testing.T) {
		creds := &tlsBearer{}
		c := dial(t, addr, client.WithTLS(certs.ClientConfig(false)), client.WithPerRPCCredentials(creds))
		got, _, err := tlsUnary(tlsContext(t), c)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("handler saw %q, want %q", got, want)
		}
		if got, _ := creds.uri.Load().(string); got != audience {
			t.Errorf("credentials got the audience %q, want %q", got, audience)
		}
	})

	t.Run("call option", func(t *testing.T) {
		creds := &tlsBearer{}
		c := dial(t, addr, client.WithTLS(certs.ClientConfig(false)))
		got, _, err := tlsUnary(tlsContext(t), c, grpc.PerRPCCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("handler saw %q, want %q", got, want)
		}
		if got, _ := creds.uri.Load().(string); got != audience {
			t.Errorf("credentials got the audience %q, want %q", got, audience)
		}
	})
}

func TestTLSLazyConnect(t *testing.T) {
	certs := tlstest.Certs()
	addr := tlsStart(t, server.TLS(certs.ServerConfig(false)))
	c := dial(t, addr, client.WithTLS(certs.ClientConfig(true)), client.WithLazyConnect())
	ctx := tlsContext(t)
	got, p, err := tlsUnary(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := "scheme=https authority=" + addr + " cn=" + tlstest.ClientCommonName + " auth="; got != want {
		t.Errorf("handler saw %q, want %q", got, want)
	}
	tlsCheckPeer(t, p)
	// The second call shares the connection.
	if _, p2, err := tlsUnary(ctx, c); err != nil {
		t.Fatal(err)
	} else if p2.LocalAddr.String() != p.LocalAddr.String() {
		t.Errorf("second call from %v, first from %v: want one connection", p2.LocalAddr, p.LocalAddr)
	}
}
