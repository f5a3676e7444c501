package dropin_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// What the client routines share: the request metadata every call sends
// and the checks of what comes back. Like the service, it uses grpc-go's
// API only.

// binValue is a -bin value no text header could carry.
var binValue = string([]byte{0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, '\n', ':', ','})

// outgoing returns ctx with the request metadata every test sends, made
// both ways grpc-go offers: NewOutgoingContext, then
// AppendToOutgoingContext, whose keys grpc-go lowercases. Repeated keys
// must arrive in order, values unsplit.
func outgoing(ctx context.Context, kv ...string) context.Context {
	ctx = metadata.NewOutgoingContext(ctx, metadata.MD{
		"x-rep":     {"first", "second, with a comma"},
		"x-bin-bin": {binValue},
	})
	return metadata.AppendToOutgoingContext(ctx, append([]string{"x-rep", "third", "X-Upper", "Value Kept"}, kv...)...)
}

// wantEcho is what outgoing sends, as the handler echoes it back.
func wantEcho() metadata.MD {
	return metadata.MD{
		"x-rep":     {"first", "second, with a comma", "third"},
		"x-bin-bin": {binValue},
		"x-upper":   {"Value Kept"},
	}
}

// callCtx is the context of one call: the test's, with a deadline.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkEcho checks md (headers or trailers) carries the echo of outgoing's
// metadata.
func checkEcho(t *testing.T, where string, md metadata.MD) {
	t.Helper()
	for k, want := range wantEcho() {
		if got := md.Get(k); !slices.Equal(got, want) {
			t.Errorf("%s[%q] = %q, want %q", where, k, got, want)
		}
	}
}

// checkValue checks md[key] is exactly want.
func checkValue(t *testing.T, where string, md metadata.MD, key string, want ...string) {
	t.Helper()
	if got := md.Get(key); !slices.Equal(got, want) {
		t.Errorf("%s[%q] = %q, want %q", where, key, got, want)
	}
}

// shownToHandlers are the request headers a grpc-go handler finds in its
// incoming metadata besides the custom ones; the first three always.
var shownToHandlers = []string{":authority", "content-type", "grpc-accept-encoding", "user-agent"}

// checkSeen checks what the handler of method reported in trailers tr
// about its context: the method, :authority (the target), the
// user-agent of the client stack, the content-type, no other request
// header in its metadata, and the peer (the client's address, and the
// server's own).
func (e *env) checkSeen(t *testing.T, tr metadata.MD, method, contentType string) {
	t.Helper()
	if len(tr.Get("seen-method")) == 0 {
		t.Errorf("no seen-* keys in trailer %v", tr)
		return
	}
	checkValue(t, "handler", tr, "seen-error")
	checkValue(t, "handler", tr, "seen-method", method+" true")
	checkValue(t, "handler", tr, "seen-authority", e.addr)
	checkValue(t, "handler", tr, "seen-content-type", contentType)
	checkValue(t, "handler", tr, "seen-deadline", "true")
	if ua := tr.Get("seen-user-agent"); len(ua) != 1 || !strings.HasPrefix(ua[0], e.client.userAgent) {
		t.Errorf("handler saw user-agent %q, want one beginning %q", ua, e.client.userAgent)
	}
	keys := tr.Get("seen-keys")
	for _, k := range keys {
		if !slices.Contains(shownToHandlers, k) {
			t.Errorf("handler's incoming metadata has %q; grpc-go shows handlers only %q besides custom keys", k, shownToHandlers)
		}
	}
	for _, k := range shownToHandlers[:2] {
		if !slices.Contains(keys, k) {
			t.Errorf("handler's incoming metadata lacks %q (has %q)", k, keys)
		}
	}
	if !slices.Contains(keys, "user-agent") {
		t.Errorf("handler's incoming metadata lacks user-agent (has %q)", keys)
	}
	checkValue(t, "handler", tr, "seen-peer-local", e.addr)
	if p := tr.Get("seen-peer"); len(p) != 1 || !isLoopback(p[0]) || p[0] == e.addr {
		t.Errorf("handler saw peer %q, want the client's loopback address", p)
	}
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	return err == nil && net.ParseIP(host).IsLoopback()
}

// checkPeer checks what grpc.Peer stored: the server's address, and the
// local one the handler saw as its peer.
func (e *env) checkPeer(t *testing.T, p *peer.Peer, tr metadata.MD) {
	t.Helper()
	if p.Addr == nil || p.Addr.String() != e.addr {
		t.Errorf("grpc.Peer: Addr %v, want %s", p.Addr, e.addr)
	}
	if want := tr.Get("seen-peer"); p.LocalAddr == nil || len(want) != 1 || p.LocalAddr.String() != want[0] {
		t.Errorf("grpc.Peer: LocalAddr %v, want the handler's peer %q", p.LocalAddr, want)
	}
}

// checkStatus checks err is want as a caller reads it with grpc-go's
// status package: the code, the message and the details, and the text.
func checkStatus(t *testing.T, err error, want *status.Status) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want %v", want.Err())
		return
	}
	if got := status.Code(err); got != want.Code() {
		t.Errorf("status.Code = %v, want %v (error %v)", got, want.Code(), err)
	}
	got, ok := status.FromError(err)
	if !ok {
		t.Errorf("status.FromError(%v [%T]) found no status", err, err)
		return
	}
	if got.Code() != want.Code() || got.Message() != want.Message() {
		t.Errorf("status.FromError = %v %q, want %v %q", got.Code(), got.Message(), want.Code(), want.Message())
	}
	gd, wd := got.Details(), want.Details()
	if len(gd) != len(wd) {
		t.Errorf("%d details %v, want %d %v", len(gd), gd, len(wd), wd)
	} else {
		for i := range gd {
			g, ok := gd[i].(proto.Message)
			if !ok || !proto.Equal(g, wd[i].(proto.Message)) {
				t.Errorf("detail %d: %v, want %v", i, gd[i], wd[i])
			}
		}
	}
	if err.Error() != want.Err().Error() {
		t.Errorf("error text %q, want %q", err.Error(), want.Err().Error())
	}
}

// checkCode checks only err's code, for errors a client makes itself
// whose text names its internals (an address, a dial error).
func checkCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("error %v: code %v, want %v", err, got, want)
	}
	if _, ok := status.FromError(err); !ok {
		t.Errorf("status.FromError(%v [%T]) found no status", err, err)
	}
}
