package client_test

import (
	"context"

	"github.com/h2grpc/h2grpc/metadata"
)

// metadataContext attaches one key-value pair as sent, without the
// lowercasing AppendToOutgoingContext does, so invalid keys reach the
// client's checks.
func metadataContext(ctx context.Context, k, v string) context.Context {
	return metadata.NewOutgoingContext(ctx, metadata.MD{k: {v}})
}
