package middleware_test

import (
	"context"
	"slices"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// bearerAuth accepts the bearer token "secret" and tells the handler the
// user is alice.
func bearerAuth(ctx context.Context) (context.Context, error) {
	token, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, err
	}
	if token != "secret" {
		return nil, status.Error(codes.Unauthenticated, "invalid token")
	}
	return context.WithValue(ctx, userKey{}, "alice"), nil
}

func authInts() serverInts {
	return serverInts{
		unary:  []grpc.UnaryServerInterceptor{auth.UnaryServerInterceptor(bearerAuth)},
		stream: []grpc.StreamServerInterceptor{auth.StreamServerInterceptor(bearerAuth)},
	}
}

// authCalls makes one call of each pattern with ctx and checks the
// outcome: the code and message start of a refusal, or, for code OK, the
// replies with "|user=<user>" the handler saw in its context.
func authCalls(t *testing.T, ctx context.Context, p pairing, addr string, code codes.Code, msg, user string) {
	t.Helper()
	c := p.dial(t, addr, clientInts{})
	suffix := "|user=" + user
	if code != codes.OK {
		_, err := unaryCall(ctx, c, "a")
		wantStatus(t, "unary", err, code, msg)
		got, err := serverStreamCall(ctx, c, "a", 2)
		wantStatus(t, "server stream", err, code, msg)
		if len(got) != 0 {
			t.Errorf("server stream: a refused call got replies %q", got)
		}
		_, err = clientStreamCall(ctx, c, "a", "b")
		wantStatus(t, "client stream", err, code, msg)
		got, err = bidiCall(ctx, c, "a", "b")
		wantStatus(t, "bidi", err, code, msg)
		if len(got) != 0 {
			t.Errorf("bidi: a refused call got replies %q", got)
		}
		return
	}
	if got, err := unaryCall(ctx, c, "a"); err != nil || got != "a"+suffix {
		t.Errorf("unary: %q, %v; want %q", got, err, "a"+suffix)
	}
	if got, err := serverStreamCall(ctx, c, "a", 2); err != nil || !slices.Equal(got, []string{"a" + suffix, "a" + suffix}) {
		t.Errorf("server stream: %q, %v", got, err)
	}
	if got, err := clientStreamCall(ctx, c, "a", "b"); err != nil || got != "a,b"+suffix {
		t.Errorf("client stream: %q, %v; want %q", got, err, "a,b"+suffix)
	}
	if got, err := bidiCall(ctx, c, "a", "b"); err != nil || !slices.Equal(got, []string{"a" + suffix, "b" + suffix}) {
		t.Errorf("bidi: %q, %v", got, err)
	}
}

// The auth interceptors refuse a call without the right bearer token with
// UNAUTHENTICATED before the handler runs, and let one with it through,
// with the context the AuthFunc returned reaching the handler (for
// streams, through the wrapped ServerStream's Context).
func TestAuth(t *testing.T) {
	cases := []struct {
		name          string
		authorization string // "" sends none
		code          codes.Code
		msg           string
	}{
		{"no token", "", codes.Unauthenticated, "Request unauthenticated with bearer"},
		{"other scheme", "Basic secret", codes.Unauthenticated, "Request unauthenticated with bearer"},
		{"malformed", "Bearer", codes.Unauthenticated, "Bad authorization string"},
		{"wrong token", "Bearer guess", codes.Unauthenticated, "invalid token"},
		{"right token", "Bearer secret", codes.OK, ""},
	}
	eachPairing(t, func(t *testing.T, p pairing) {
		svc := &service{}
		addr := p.serve(t, svc, authInts())
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := testContext(t)
				if tc.authorization != "" {
					ctx = grpcmd.AppendToOutgoingContext(ctx, "authorization", tc.authorization)
				}
				before := svc.handled()
				authCalls(t, ctx, p, addr, tc.code, tc.msg, "alice")
				handled := svc.handled() - before
				if tc.code != codes.OK && handled != 0 {
					t.Errorf("%d handlers ran for refused calls", handled)
				}
				if tc.code == codes.OK && handled != 4 {
					t.Errorf("%d handlers ran for 4 accepted calls", handled)
				}
			})
		}
	})
}

// overridingService decides itself who may call it, as
// auth.ServiceAuthFuncOverride allows: the auth interceptors find it as the
// unary info's Server and the stream interceptor's srv, so both servers
// must pass the registered implementation there.
type overridingService struct{ *service }

func (overridingService) AuthFuncOverride(ctx context.Context, fullMethod string) (context.Context, error) {
	token, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, err
	}
	if token != "override" {
		return nil, status.Error(codes.PermissionDenied, "not the override token")
	}
	return context.WithValue(ctx, userKey{}, "override"), nil
}

func TestAuthFuncOverride(t *testing.T) {
	eachPairing(t, func(t *testing.T, p pairing) {
		addr := p.serve(t, overridingService{&service{}}, authInts())
		ctx := testContext(t)
		t.Run("the service's token", func(t *testing.T) {
			authCalls(t, grpcmd.AppendToOutgoingContext(ctx, "authorization", "Bearer override"), p, addr, codes.OK, "", "override")
		})
		t.Run("the AuthFunc's token", func(t *testing.T) {
			authCalls(t, grpcmd.AppendToOutgoingContext(ctx, "authorization", "Bearer secret"), p, addr,
				codes.PermissionDenied, "not the override token", "")
		})
	})
}
