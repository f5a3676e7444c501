// Package h2test is a fake HTTP/2 peer for frame-level tests of
// connection/: a test drives one end of a net.Pipe (or any net.Conn) frame by
// frame while a connection.Conn runs on the other end, and reads back every
// frame the connection writes, decoded and copied so that it stays valid.
//
// It also records a net.Conn's Write calls (WriteRecorder) so that a test can
// check which frames left in one write.
//
// Only tests may import it. Like connection/ it imports
// golang.org/x/net/http2 and hpack (a fake peer needs a Framer); otherwise
// only the standard library.
package h2test
