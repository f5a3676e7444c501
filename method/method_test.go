package method_test

import (
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/h2grpc/h2grpc/method"
)

func TestTypeString(t *testing.T) {
	tests := []struct {
		t            method.Type
		want         string
		client, serv bool
	}{
		{method.Unary, "unary", false, false},
		{method.ClientStreaming, "client_streaming", true, false},
		{method.ServerStreaming, "server_streaming", false, true},
		{method.BidiStreaming, "bidi_streaming", true, true},
		{4, "type(4)", false, false},
		{255, "type(255)", false, false},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("Type(%d).String() = %q, want %q", uint8(tt.t), got, tt.want)
		}
		if got := tt.t.ClientStreams(); got != tt.client {
			t.Errorf("%v.ClientStreams() = %v, want %v", tt.t, got, tt.client)
		}
		if got := tt.t.ServerStreams(); got != tt.serv {
			t.Errorf("%v.ServerStreams() = %v, want %v", tt.t, got, tt.serv)
		}
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path            string
		service, method string
		wantErr         string
	}{
		{path: "/pkg.Service/Method", service: "pkg.Service", method: "Method"},
		{path: "/Service/M", service: "Service", method: "M"},
		{path: "/a.b.c.Svc/Do_It", service: "a.b.c.Svc", method: "Do_It"},
		{path: "/PKG.service/method", service: "PKG.service", method: "method"},
		{path: "", wantErr: "does not start with '/'"},
		{path: "pkg.Service/Method", wantErr: "does not start with '/'"},
		{path: "/", wantErr: "want /service/method"},
		{path: "/pkg.Service", wantErr: "want /service/method"},
		{path: "//Method", wantErr: "empty service"},
		{path: "/pkg.Service/", wantErr: "empty method"},
		{path: "/pkg.Service/Method/", wantErr: "more than two segments"},
		{path: "/pkg/Service/Method", wantErr: "more than two segments"},
		{path: "//", wantErr: "empty service"},
	}
	for _, tt := range tests {
		service, meth, err := method.ParsePath(tt.path)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePath(%q) error = %v, want one containing %q", tt.path, err, tt.wantErr)
			}
			if service != "" || meth != "" {
				t.Errorf("ParsePath(%q) returned names with an error: %q %q", tt.path, service, meth)
			}
			continue
		}
		if err != nil || service != tt.service || meth != tt.method {
			t.Errorf("ParsePath(%q) = %q, %q, %v; want %q, %q", tt.path, service, meth, err, tt.service, tt.method)
		}
		if got := method.Path(service, meth); got != tt.path {
			t.Errorf("Path(%q, %q) = %q, want %q", service, meth, got, tt.path)
		}
	}
}

func TestFromPath(t *testing.T) {
	d, err := method.FromPath("/pkg.Svc/Get", method.ServerStreaming)
	if err != nil {
		t.Fatal(err)
	}
	want := method.Desc{Path: "/pkg.Svc/Get", Service: "pkg.Svc", Method: "Get", Type: method.ServerStreaming}
	if d != want {
		t.Errorf("FromPath() = %+v, want %+v", d, want)
	}
	if _, err := method.FromPath("pkg.Svc/Get", method.Unary); err == nil {
		t.Errorf("FromPath accepted a malformed path")
	}
	if _, err := method.FromPath("/pkg.Svc/Get", 4); err == nil {
		t.Errorf("FromPath accepted an unknown call type")
	}
}

// testFile builds, without generated code, a file that declares a service
// with every call pattern and one method on registered well-known types.
func testFile(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	byt := descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	rpc := func(name, in, out string, cs, ss bool) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{
			Name: proto.String(name), InputType: proto.String(in), OutputType: proto.String(out),
			ClientStreaming: proto.Bool(cs), ServerStreaming: proto.Bool(ss),
		}
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("h2grpc/methodtest/echo.proto"),
		Package:    proto.String("h2grpc.methodtest"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/empty.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("EchoRequest"), Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("text"), Number: proto.Int32(1), Type: str, Label: opt, JsonName: proto.String("text")},
				{Name: proto.String("blob"), Number: proto.Int32(2), Type: byt, Label: opt, JsonName: proto.String("blob")},
			}},
			{Name: proto.String("EchoResponse"), Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("text"), Number: proto.Int32(1), Type: str, Label: opt, JsonName: proto.String("text")},
			}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("Echo"),
			Method: []*descriptorpb.MethodDescriptorProto{
				rpc("Unary", ".h2grpc.methodtest.EchoRequest", ".h2grpc.methodtest.EchoResponse", false, false),
				rpc("ClientStream", ".h2grpc.methodtest.EchoRequest", ".h2grpc.methodtest.EchoResponse", true, false),
				rpc("ServerStream", ".h2grpc.methodtest.EchoRequest", ".h2grpc.methodtest.EchoResponse", false, true),
				rpc("Bidi", ".h2grpc.methodtest.EchoRequest", ".h2grpc.methodtest.EchoResponse", true, true),
				rpc("Ping", ".google.protobuf.Empty", ".google.protobuf.Empty", false, false),
			},
		}},
	}
	_ = emptypb.Empty{} // links and registers google/protobuf/empty.proto
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestFromService(t *testing.T) {
	sd := testFile(t).Services().ByName("Echo")
	descs, err := method.FromService(sd)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		path, method string
		typ          method.Type
		req, resp    protoreflect.FullName
	}{
		{"/h2grpc.methodtest.Echo/Unary", "Unary", method.Unary, "h2grpc.methodtest.EchoRequest", "h2grpc.methodtest.EchoResponse"},
		{"/h2grpc.methodtest.Echo/ClientStream", "ClientStream", method.ClientStreaming, "h2grpc.methodtest.EchoRequest", "h2grpc.methodtest.EchoResponse"},
		{"/h2grpc.methodtest.Echo/ServerStream", "ServerStream", method.ServerStreaming, "h2grpc.methodtest.EchoRequest", "h2grpc.methodtest.EchoResponse"},
		{"/h2grpc.methodtest.Echo/Bidi", "Bidi", method.BidiStreaming, "h2grpc.methodtest.EchoRequest", "h2grpc.methodtest.EchoResponse"},
		{"/h2grpc.methodtest.Echo/Ping", "Ping", method.Unary, "google.protobuf.Empty", "google.protobuf.Empty"},
	}
	if len(descs) != len(want) {
		t.Fatalf("FromService() = %d descs, want %d", len(descs), len(want))
	}
	for i, w := range want {
		d := descs[i]
		if d.Path != w.path || d.Service != "h2grpc.methodtest.Echo" || d.Method != w.method || d.Type != w.typ {
			t.Errorf("desc %d = {%q %q %q %v}, want {%q %q %q %v}", i,
				d.Path, d.Service, d.Method, d.Type, w.path, "h2grpc.methodtest.Echo", w.method, w.typ)
		}
		if d.Request == nil || d.Response == nil {
			t.Fatalf("desc %d has nil message types", i)
		}
		if got := d.Request.Descriptor().FullName(); got != w.req {
			t.Errorf("desc %d request = %s, want %s", i, got, w.req)
		}
		if got := d.Response.Descriptor().FullName(); got != w.resp {
			t.Errorf("desc %d response = %s, want %s", i, got, w.resp)
		}
		// The path must parse back to the same names.
		s, m, err := method.ParsePath(d.Path)
		if err != nil || s != d.Service || m != d.Method {
			t.Errorf("ParsePath(%q) = %q %q %v", d.Path, s, m, err)
		}
	}

	// Unregistered messages get dynamic types; registered ones their Go types.
	if _, ok := descs[0].Request.New().Interface().(*dynamicpb.Message); !ok {
		t.Errorf("unregistered request type is %T, want *dynamicpb.Message", descs[0].Request.New().Interface())
	}
	if _, ok := descs[4].Request.New().Interface().(*emptypb.Empty); !ok {
		t.Errorf("registered request type is %T, want *emptypb.Empty", descs[4].Request.New().Interface())
	}
}

func TestFromMethod(t *testing.T) {
	sd := testFile(t).Services().ByName("Echo")
	d, err := method.FromMethod(sd.Methods().ByName("Bidi"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Path != "/h2grpc.methodtest.Echo/Bidi" || d.Type != method.BidiStreaming {
		t.Errorf("FromMethod(Bidi) = %+v", d)
	}
	if _, err := method.FromMethod(nil); err == nil {
		t.Errorf("FromMethod(nil) succeeded")
	}
	if _, err := method.FromService(nil); err == nil {
		t.Errorf("FromService(nil) succeeded")
	}
}

func TestDescConcurrentUse(t *testing.T) {
	descs, err := method.FromService(testFile(t).Services().ByName("Echo"))
	if err != nil {
		t.Fatal(err)
	}
	d := descs[0]
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				req := d.Request.New()
				req.Set(req.Descriptor().Fields().ByName("text"), protoreflect.ValueOfString("hi"))
				b, err := method.Proto.Marshal(nil, req.Interface())
				if err != nil {
					t.Error(err)
					return
				}
				out := d.Request.New().Interface()
				if err := method.Proto.Unmarshal(b, out); err != nil {
					t.Error(err)
					return
				}
				if !proto.Equal(out, req.Interface()) {
					t.Errorf("round trip gave %v, want %v", out, req.Interface())
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzParsePath(f *testing.F) {
	for _, p := range []string{"/pkg.Service/Method", "", "/", "//", "/a/b/c"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		service, meth, err := method.ParsePath(path)
		if err != nil {
			return
		}
		if service == "" || meth == "" || strings.Contains(service, "/") || strings.Contains(meth, "/") {
			t.Fatalf("ParsePath(%q) = %q, %q: want two non-empty names without '/'", path, service, meth)
		}
		if got := method.Path(service, meth); got != path {
			t.Fatalf("Path(ParsePath(%q)) = %q", path, got)
		}
	})
}
