// Package tlstest makes the certificates and TLS configurations of h2grpc's
// TLS tests: a CA, a server certificate and a client certificate signed by
// it, generated at run time (ECDSA P-256) so that nothing secret or expiring
// is committed.
//
// It is for tests only. It imports only the standard library.
package tlstest
