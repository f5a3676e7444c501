package method

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Type is one of the four call patterns.
type Type uint8

// The call patterns.
const (
	Unary           Type = iota // one request, one response
	ClientStreaming             // many requests, one response
	ServerStreaming             // one request, many responses
	BidiStreaming               // many requests, many responses
)

// String returns "unary", "client_streaming", "server_streaming" or
// "bidi_streaming", or "type(n)" for a value that is none of them.
func (t Type) String() string {
	switch t {
	case Unary:
		return "unary"
	case ClientStreaming:
		return "client_streaming"
	case ServerStreaming:
		return "server_streaming"
	case BidiStreaming:
		return "bidi_streaming"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ClientStreams reports whether the client may send any number of messages
// (client streaming and bidi streaming), rather than exactly one.
func (t Type) ClientStreams() bool {
	return t == ClientStreaming || t == BidiStreaming
}

// ServerStreams reports whether the server may send any number of messages
// (server streaming and bidi streaming), rather than exactly one.
func (t Type) ServerStreams() bool {
	return t == ServerStreaming || t == BidiStreaming
}

// typeOf returns the call pattern for the two streaming flags.
func typeOf(clientStreams, serverStreams bool) Type {
	switch {
	case clientStreams && serverStreams:
		return BidiStreaming
	case clientStreams:
		return ClientStreaming
	case serverStreams:
		return ServerStreaming
	}
	return Unary
}

// Desc says what a call is. It is immutable after construction: build it
// with [FromMethod], [FromService] or [FromPath] (or as a literal) and do not
// change it once shared.
type Desc struct {
	Path     string                   // "/pkg.Service/Method", as in the :path header
	Service  string                   // "pkg.Service", the fully qualified service name
	Method   string                   // "Method"
	Type     Type                     // the call pattern
	Request  protoreflect.MessageType // nil when the Desc came from a path alone
	Response protoreflect.MessageType // nil when the Desc came from a path alone
}

// ParsePath splits a :path value into service and method. The path must be
// "/" + service + "/" + method with both parts non-empty and no further '/'.
// Names are case-sensitive and returned as they are.
func ParsePath(path string) (service, method string, err error) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "", "", fmt.Errorf("method: malformed path %q: does not start with '/'", path)
	}
	service, method, ok = strings.Cut(rest, "/")
	switch {
	case !ok:
		return "", "", fmt.Errorf("method: malformed path %q: want /service/method", path)
	case service == "":
		return "", "", fmt.Errorf("method: malformed path %q: empty service", path)
	case method == "":
		return "", "", fmt.Errorf("method: malformed path %q: empty method", path)
	case strings.Contains(method, "/"):
		return "", "", fmt.Errorf("method: malformed path %q: more than two segments", path)
	}
	return service, method, nil
}

// Path returns the :path value for a method: "/" + service + "/" + method.
// It does not check the names; [ParsePath] does on the receiving side.
func Path(service, method string) string {
	return "/" + service + "/" + method
}

// FromPath returns the Desc of a call known only by its path and pattern,
// without message types. It fails when path is malformed ([ParsePath]) or t
// is not one of the four patterns.
func FromPath(path string, t Type) (Desc, error) {
	if t > BidiStreaming {
		return Desc{}, fmt.Errorf("method: unknown call type %v", t)
	}
	service, method, err := ParsePath(path)
	if err != nil {
		return Desc{}, err
	}
	return Desc{Path: path, Service: service, Method: method, Type: t}, nil
}

// FromMethod returns the Desc of a method of a protobuf service. The request
// and response types are those registered in [protoregistry.GlobalTypes]
// (generated code registers its messages); a message that is not registered
// gets a [dynamicpb] type built from the descriptor.
func FromMethod(md protoreflect.MethodDescriptor) (Desc, error) {
	if md == nil {
		return Desc{}, errors.New("method: FromMethod: nil method descriptor")
	}
	sd, ok := md.Parent().(protoreflect.ServiceDescriptor)
	if !ok {
		return Desc{}, fmt.Errorf("method: FromMethod: %s has no parent service", md.FullName())
	}
	req, err := messageType(md.Input())
	if err != nil {
		return Desc{}, fmt.Errorf("method: FromMethod: %s request: %w", md.FullName(), err)
	}
	resp, err := messageType(md.Output())
	if err != nil {
		return Desc{}, fmt.Errorf("method: FromMethod: %s response: %w", md.FullName(), err)
	}
	service, method := string(sd.FullName()), string(md.Name())
	return Desc{
		Path:     Path(service, method),
		Service:  service,
		Method:   method,
		Type:     typeOf(md.IsStreamingClient(), md.IsStreamingServer()),
		Request:  req,
		Response: resp,
	}, nil
}

// FromService returns the Descs of all methods of a protobuf service, in
// declaration order. See [FromMethod] for how message types are found.
func FromService(sd protoreflect.ServiceDescriptor) ([]Desc, error) {
	if sd == nil {
		return nil, errors.New("method: FromService: nil service descriptor")
	}
	methods := sd.Methods()
	out := make([]Desc, methods.Len())
	for i := range out {
		d, err := FromMethod(methods.Get(i))
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// messageType finds the Go type of the message md describes, or builds a
// dynamic one.
func messageType(md protoreflect.MessageDescriptor) (protoreflect.MessageType, error) {
	if md == nil {
		return nil, errors.New("no message descriptor")
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	switch {
	case err == nil:
		return mt, nil
	case errors.Is(err, protoregistry.NotFound):
		return dynamicpb.NewMessageType(md), nil
	}
	return nil, err
}
