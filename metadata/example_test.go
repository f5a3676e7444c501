package metadata_test

import (
	"fmt"
	"time"

	"github.com/h2grpc/h2grpc/metadata"
)

func ExampleMD() {
	md := metadata.Pairs("X-Request-Id", "42", "x-tag", "a", "X-Tag", "b")
	md.Append("x-tag", "c")
	fmt.Println(md.Get("x-request-id"), md.Get("X-TAG"))
	fmt.Println(md.Validate())
	fmt.Println(metadata.Pairs("grpc-status", "0").Validate())
	// Output:
	// [42] [a b c]
	// <nil>
	// metadata: key "grpc-status" is reserved for the transport
}

func ExampleEncodeTimeout() {
	for _, d := range []time.Duration{0, 1500 * time.Millisecond, 36 * time.Hour} {
		s := metadata.EncodeTimeout(d)
		back, _ := metadata.DecodeTimeout(s)
		fmt.Println(s, back)
	}
	// Output:
	// 1n 1ns
	// 1500000u 1.5s
	// 129600S 36h0m0s
}

func ExampleDecodeBin() {
	vals, err := metadata.DecodeBin(metadata.EncodeBin("\x00\x01") + ",AgM=")
	fmt.Printf("%q %v\n", vals, err)
	// Output:
	// ["\x00\x01" "\x02\x03"] <nil>
}
