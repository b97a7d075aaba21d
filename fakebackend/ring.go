package fakebackend

// ring keeps the newest limit values added, in order (the decision log,
// the pushes): adding to a full ring overwrites the oldest value in place.
// It is not safe for concurrent use: its owner locks it.
type ring[T any] struct {
	limit int
	buf   []T
	start int // the oldest value, once the ring is full
}

func (r *ring[T]) add(v T) {
	if len(r.buf) < r.limit {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % r.limit
}

// list returns the values, oldest first.
func (r *ring[T]) list() []T {
	out := make([]T, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

func (r *ring[T]) reset() { r.buf, r.start = nil, 0 }
