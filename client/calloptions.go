package client

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/h2grpc/h2grpc/internal/grpccompat"
	"github.com/h2grpc/h2grpc/metadata"
	"github.com/h2grpc/h2grpc/method"
)

// CallOption configures one call. It is grpc-go's type, so grpc-go's call
// options (grpc.Header, grpc.MaxCallRecvMsgSize, grpc.UseCompressor, ...)
// and h2grpc's own are passed the same way. The README lists which of
// grpc-go's are honoured; the others are ignored, as grpc-go ignores
// options it does not know.
type CallOption = grpc.CallOption

// callOptions is what a call's options say, read once when it starts.
type callOptions struct {
	maxRecvSize  int // 0: the connection's limit
	maxSendSize  int
	header       *metadata.MD
	trailer      *metadata.MD
	grpcHeader   *grpcmd.MD
	grpcTrailer  *grpcmd.MD
	peer         *peer.Peer
	waitForReady bool
	compressor   string
	subtype      string
	codec        method.Codec // from grpc.ForceCodec
	authority    string
	creds        []credentials.PerRPCCredentials
	onFinish     []func(error)
}

func (o *callOptions) apply(opts []CallOption) {
	for _, opt := range opts {
		switch v := opt.(type) {
		case headerOption:
			o.header = v.md
		case trailerOption:
			o.trailer = v.md
		case grpc.HeaderCallOption:
			o.grpcHeader = v.HeaderAddr
		case grpc.TrailerCallOption:
			o.grpcTrailer = v.TrailerAddr
		case grpc.PeerCallOption:
			o.peer = v.PeerAddr
		case grpc.FailFastCallOption:
			o.waitForReady = !v.FailFast
		case grpc.MaxRecvMsgSizeCallOption:
			o.maxRecvSize = v.MaxRecvMsgSize
		case grpc.MaxSendMsgSizeCallOption:
			o.maxSendSize = v.MaxSendMsgSize
		case grpc.CompressorCallOption:
			o.compressor = v.CompressorType
		case grpc.ContentSubtypeCallOption:
			o.subtype = v.ContentSubtype
		case grpc.ForceCodecCallOption:
			o.codec = grpccompat.Codec(v.Codec)
		case grpc.AuthorityOverrideCallOption:
			o.authority = v.Authority
		case grpc.PerRPCCredsCallOption:
			o.creds = append(o.creds, v.Creds)
		case grpc.OnFinishCallOption:
			o.onFinish = append(o.onFinish, v.OnFinish)
		}
	}
}

// MaxCallRecvMsgSize limits the size of a message this call receives, as
// grpc-go's option of that name (which it returns) does.
func MaxCallRecvMsgSize(n int) CallOption { return grpc.MaxCallRecvMsgSize(n) }

// MaxCallSendMsgSize limits the size of a message this call sends.
func MaxCallSendMsgSize(n int) CallOption { return grpc.MaxCallSendMsgSize(n) }

// Header stores the response headers' metadata in *md when the call ends,
// as grpc.Header does with grpc-go's metadata type.
func Header(md *metadata.MD) CallOption { return headerOption{md: md} }

// Trailer stores the trailers' metadata in *md when the call ends.
func Trailer(md *metadata.MD) CallOption { return trailerOption{md: md} }

type headerOption struct {
	grpc.EmptyCallOption
	md *metadata.MD
}

type trailerOption struct {
	grpc.EmptyCallOption
	md *metadata.MD
}
