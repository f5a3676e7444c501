package compression_test

import (
	"fmt"

	"github.com/h2grpc/h2grpc/compression"
	"github.com/h2grpc/h2grpc/status"
)

func ExampleGet() {
	c := compression.Get("gzip")
	msg := []byte("a message, a message, a message")
	comp, _ := c.Compress(nil, msg)

	out, err := c.Decompress(nil, comp, 1024)
	fmt.Printf("%s %v\n", out, err)

	// Past the receiver's limit: RESOURCE_EXHAUSTED, before the output is
	// made.
	_, err = c.Decompress(nil, comp, 10)
	fmt.Println(status.CodeOf(err))

	fmt.Println(compression.Get("identity") == nil)
	// Output:
	// a message, a message, a message <nil>
	// RESOURCE_EXHAUSTED
	// true
}

func ExampleNegotiate() {
	// A server answers with the request's own encoding when it has it.
	fmt.Printf("%q\n", compression.Negotiate("gzip", "gzip,deflate"))
	fmt.Printf("%q\n", compression.Negotiate("br", "br,gzip"))
	fmt.Printf("%q\n", compression.Negotiate("", compression.AcceptEncoding()))
	// Output:
	// "gzip"
	// ""
	// ""
}

func ExampleWithLevel() {
	c, err := compression.WithLevel("zstd", 4) // zstd.SpeedBestCompression
	fmt.Println(c.Name(), err)
	_, err = compression.WithLevel("snappy", 1)
	fmt.Println(err)
	// Output:
	// zstd <nil>
	// compression: snappy has no levels, got 1
}
