package tlstest_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/h2grpc/h2grpc/internal/tlstest"
)

func TestCertsAreGeneratedOnce(t *testing.T) {
	first, second := tlstest.Certs(), tlstest.Certs()
	if first != second {
		t.Fatal("Certs returned two bundles")
	}
}

func TestServerCertificateNames(t *testing.T) {
	b := tlstest.Certs()
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "foo.test.google.fr"} {
		_, err := b.Server.Leaf.Verify(x509.VerifyOptions{
			DNSName:   name,
			Roots:     b.Pool,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("server certificate for %q: %v", name, err)
		}
	}
	if err := b.Server.Leaf.VerifyHostname("example.com"); err == nil {
		t.Error("server certificate is valid for example.com")
	}
}

func TestClientCertificate(t *testing.T) {
	b := tlstest.Certs()
	_, err := b.Client.Leaf.Verify(x509.VerifyOptions{
		Roots:     b.Pool,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cn := b.Client.Leaf.Subject.CommonName; cn != tlstest.ClientCommonName {
		t.Errorf("client CN = %q, want %q", cn, tlstest.ClientCommonName)
	}
}

func TestConfigsAreFresh(t *testing.T) {
	b := tlstest.Certs()
	s1, s2 := b.ServerConfig(false), b.ServerConfig(false)
	c1, c2 := b.ClientConfig(false), b.ClientConfig(false)
	if s1 == s2 || c1 == c2 {
		t.Fatal("configurations are shared between calls")
	}
}

// handshake runs a TLS handshake over loopback TCP and returns what each
// side saw. TCP rather than net.Pipe: a side whose handshake fails writes an
// alert the other may never read, which on an unbuffered pipe would block.
func handshake(t *testing.T, srvCfg, cliCfg *tls.Config) (srv, cli tls.ConnectionState, srvErr, cliErr error) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	deadline := time.Now().Add(10 * time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := lis.Accept()
		if err != nil {
			srvErr = err
			return
		}
		defer nc.Close()
		nc.SetDeadline(deadline)
		s := tls.Server(nc, srvCfg)
		srvErr = s.Handshake()
		srv = s.ConnectionState()
	}()
	nc, err := net.DialTimeout("tcp", lis.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(deadline)
	cliCfg.ServerName = "localhost"
	c := tls.Client(nc, cliCfg)
	cliErr = c.Handshake()
	cli = c.ConnectionState()
	c.Close()
	<-done
	return srv, cli, srvErr, cliErr
}

func TestMutualTLSHandshake(t *testing.T) {
	b := tlstest.Certs()
	srv, cli, srvErr, cliErr := handshake(t, b.ServerConfig(true), b.ClientConfig(true))
	if srvErr != nil || cliErr != nil {
		t.Fatalf("handshake: server %v, client %v", srvErr, cliErr)
	}
	if srv.NegotiatedProtocol != "h2" || cli.NegotiatedProtocol != "h2" {
		t.Errorf("ALPN: server %q, client %q, want h2", srv.NegotiatedProtocol, cli.NegotiatedProtocol)
	}
	if len(srv.PeerCertificates) == 0 || srv.PeerCertificates[0].Subject.CommonName != tlstest.ClientCommonName {
		t.Errorf("server saw client certificates %v", srv.PeerCertificates)
	}
}

func TestRequiredClientCertificateIsEnforced(t *testing.T) {
	b := tlstest.Certs()
	_, _, srvErr, _ := handshake(t, b.ServerConfig(true), b.ClientConfig(false))
	if srvErr == nil {
		t.Fatal("server accepted a client without a certificate")
	}
}
