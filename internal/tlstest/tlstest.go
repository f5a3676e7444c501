package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// ClientCommonName is the subject common name of the client certificate,
// for tests that check a handler sees who the client is.
const ClientCommonName = "h2grpc test client"

// Bundle is a CA and the server and client certificates it signed. It is
// shared by every test of the process: its fields must not be modified; the
// configurations its methods return are new each time and may be.
type Bundle struct {
	// CA is the certificate authority that signed Server and Client.
	CA *x509.Certificate
	// Pool holds CA alone: the RootCAs of a client, the ClientCAs of a
	// server.
	Pool *x509.CertPool
	// Server is the server's certificate chain and key, valid for
	// localhost, 127.0.0.1, ::1 and foo.test.google.fr (the name grpc-go's
	// own test certificates carry, so tests ported from grpc-go that
	// override the authority keep working); Server.Leaf is set.
	Server tls.Certificate
	// Client is the client's certificate chain and key, with subject
	// ClientCommonName; Client.Leaf is set.
	Client tls.Certificate
}

var (
	once   sync.Once
	bundle *Bundle
	genErr error
)

// Certs returns the process's certificates, generating them on the first
// call (a few milliseconds). It panics if generation fails, which only a
// broken crypto/rand could cause. It is safe for concurrent use.
func Certs() *Bundle {
	once.Do(func() { bundle, genErr = generate() })
	if genErr != nil {
		panic("tlstest: " + genErr.Error())
	}
	return bundle
}

// ServerConfig returns a server configuration offering h2 by ALPN. With
// requireClientCert, clients must present a certificate signed by the CA
// (mutual TLS); without it, a client certificate is verified if the client
// sends one, so a handler may still see it.
func (b *Bundle) ServerConfig(requireClientCert bool) *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{b.Server},
		ClientCAs:    b.Pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		NextProtos:   []string{"h2"},
		MinVersion:   tls.VersionTLS12,
	}
	if requireClientCert {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}

// ClientConfig returns a client configuration that trusts the CA and
// offers h2 by ALPN; withClientCert adds the client certificate. ServerName
// is left empty: grpc-go and crypto/tls take it from the address dialled,
// and the server certificate covers the loopback names and addresses.
func (b *Bundle) ClientConfig(withClientCert bool) *tls.Config {
	cfg := &tls.Config{
		RootCAs:    b.Pool,
		NextProtos: []string{"h2"},
		MinVersion: tls.VersionTLS12,
	}
	if withClientCert {
		cfg.Certificates = []tls.Certificate{b.Client}
	}
	return cfg
}

func generate() (*Bundle, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: "h2grpc test CA"},
		// Back-dated so that a peer whose clock is slightly behind does
		// not reject a certificate made a moment ago.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	ca, err := sign(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	b := &Bundle{CA: ca, Pool: x509.NewCertPool()}
	b.Pool.AddCert(ca)

	b.Server, err = leaf(ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost", "foo.test.google.fr"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	b.Client, err = leaf(ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: ClientCommonName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	return b, nil
}

// leaf makes a certificate from tmpl, with a new key, signed by the CA.
func leaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl.NotBefore, tmpl.NotAfter = ca.NotBefore, ca.NotAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	cert, err := sign(tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{
		Certificate: [][]byte{cert.Raw, ca.Raw},
		PrivateKey:  key,
		Leaf:        cert,
	}, nil
}

// sign gives tmpl a random serial number and signs it with the parent's
// key.
func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, parentKey *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
