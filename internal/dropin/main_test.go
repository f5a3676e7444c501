package dropin_test

import (
	"testing"

	"go.uber.org/goleak"
)

// goleak retries for a while before it reports, so grpc-go's slowly exiting
// goroutines need no exception.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
