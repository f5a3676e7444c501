package method_test

import (
	"fmt"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/h2grpc/h2grpc/method"
)

func ExampleParsePath() {
	service, meth, err := method.ParsePath("/grpc.health.v1.Health/Check")
	fmt.Println(service, meth, err)
	fmt.Println(method.Path(service, meth))
	_, _, err = method.ParsePath("/grpc.health.v1.Health")
	fmt.Println(err)
	// Output:
	// grpc.health.v1.Health Check <nil>
	// /grpc.health.v1.Health/Check
	// method: malformed path "/grpc.health.v1.Health": want /service/method
}

func ExampleCodec() {
	// Marshal appends, so the 5-byte message prefix can be reserved first.
	buf := make([]byte, 5, 64)
	buf, err := method.Proto.Marshal(buf, wrapperspb.String("hi"))
	fmt.Println(buf, err)

	var got wrapperspb.StringValue
	err = method.Proto.Unmarshal(buf[5:], &got)
	fmt.Println(got.GetValue(), err)
	// Output:
	// [0 0 0 0 0 10 2 104 105] <nil>
	// hi <nil>
}
