package grpccompat

// Chain returns final wrapped in the interceptors all, the first outermost,
// as grpc-go chains them: wrap(i, next) is the handler that runs
// interceptor i with next as what it calls on. Server and client, unary
// and stream, chain with it; only their wrap differs.
func Chain[I, H any](all []I, final H, wrap func(i I, next H) H) H {
	h := final
	for k := len(all) - 1; k >= 0; k-- {
		h = wrap(all[k], h)
	}
	return h
}
