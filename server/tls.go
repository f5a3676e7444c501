package server

import (
	"crypto/tls"
	"errors"
	"net"
	"time"

	"google.golang.org/grpc/credentials"
)

// TLS makes the server speak TLS on every connection, with cfg: it is
// grpc-go's grpc.Creds(credentials.NewTLS(cfg)), and so shares its
// behaviour: the server works on a clone of cfg with "h2" added to
// NextProtos, TLS 1.2 as the minimum version and HTTP/2's forbidden cipher
// suites left out unless cfg chooses them. A client that does not
// negotiate h2 by ALPN is disconnected once the handshake is done.
//
// For mutual TLS, set cfg.ClientAuth (tls.RequireAndVerifyClientCert) and
// cfg.ClientCAs; handlers find the client's certificates in the AuthInfo
// of their peer (credentials.TLSInfo, from peer.FromContext) or of their
// Call. Without TLS or Creds, the server speaks h2c.
func TLS(cfg *tls.Config) Option {
	return Creds(credentials.NewTLS(cfg))
}

// Creds makes every connection start with c's server handshake, as
// grpc-go's grpc.Creds does, so code written for grpc-go
// (credentials.NewTLS, insecure.NewCredentials, or any other
// TransportCredentials) configures this server unchanged. The AuthInfo the
// handshake returns is the peer's AuthInfo in the handlers of the calls on
// the connection. When it is a credentials.TLSInfo, the connection must
// have negotiated h2 by ALPN, or it is closed. The handshake is bounded by
// ConnectionTimeout.
func Creds(c credentials.TransportCredentials) Option {
	return optionFunc(func(o *options) { o.creds = c })
}

// AuthInfo returns what the server's transport credentials learnt about
// the client in the connection's handshake: a credentials.TLSInfo on a TLS
// connection, whose State.PeerCertificates holds the client's certificate
// under mutual TLS. It is nil on a connection without credentials (h2c).
// It is the AuthInfo of the grpc-go peer in the call's context.
func (c *Call) AuthInfo() credentials.AuthInfo {
	info, _ := c.st.Conn().Info().(credentials.AuthInfo)
	return info
}

// errNoH2 ends a TLS connection whose client did not negotiate HTTP/2.
// Go's crypto/tls fails the handshake of a client offering only protocols
// the server lacks ("no application protocol"), but it lets one that offers
// none, or offers http/1.1 to a server that has h2, through with no
// protocol. credentials.NewTLS refuses those unless GRPC_ENFORCE_ALPN_ENABLED
// is false; other credentials, or a configuration that also offers
// http/1.1, may not: this check covers every case.
var errNoH2 = errors.New("h2grpc: the TLS client did not negotiate h2 by ALPN")

// handshake runs the server's transport credentials on a new connection
// and returns the connection to speak HTTP/2 on (raw itself without
// credentials) and the handshake's AuthInfo. On error raw is closed.
func (s *Server) handshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	creds := s.opts.creds
	if creds == nil {
		return raw, nil, nil
	}
	// ServerHandshake takes no context: the socket's deadline is the only
	// way to bound it, as in grpc-go.
	if d := s.opts.connTimeout; d > 0 {
		if err := raw.SetDeadline(time.Now().Add(d)); err != nil {
			raw.Close()
			return nil, nil, err
		}
	}
	nc, info, err := creds.ServerHandshake(raw)
	if err != nil {
		raw.Close() // the credentials may not have
		return nil, nil, err
	}
	if p, ok := negotiatedProtocol(info); ok && p != "h2" {
		nc.Close()
		return nil, nil, errNoH2
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, info, nil
}

// negotiatedProtocol returns the ALPN result of a TLS handshake, and false
// for credentials that are not TLS (insecure, ALTS, ...), which have none.
func negotiatedProtocol(info credentials.AuthInfo) (string, bool) {
	ti, ok := info.(credentials.TLSInfo)
	return ti.State.NegotiatedProtocol, ok
}
