package auditlog

import (
	"math/rand"
	"sync"
	"time"
)

// RetryPolicy says how often and how patiently a call is retried. A call is retried after a
// connection error, a 429 or a 5xx answer; every other answer is final. Writes are safe to retry
// because the client sets each event's audit_id before the first attempt.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt: 1 turns retries off. Default 4.
	MaxAttempts int
	// InitialBackoff is the ceiling of the first wait; it doubles after each attempt up to
	// MaxBackoff, and each wait is drawn uniformly below the ceiling ("full jitter").
	// Defaults 200 ms and 10 s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits out by itself; an answer asking
	// for longer is returned at once as an *APIError with RetryAfter set. Default 30 s.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy is the policy of a client made without WithRetry.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, InitialBackoff: 200 * time.Millisecond,
		MaxBackoff: 10 * time.Second, MaxRetryAfter: 30 * time.Second}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts < 1 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = d.InitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	return p
}

// backoff draws jittered waits; math/rand is enough for spreading clients apart.
type backoff struct {
	mu  sync.Mutex
	rnd *rand.Rand
}

func newBackoff() *backoff {
	return &backoff{rnd: rand.New(rand.NewSource(time.Now().UnixNano()))}
}

// ceiling is the largest wait after the given attempt (1-based): InitialBackoff * 2^(attempt-1),
// at most MaxBackoff.
func (p RetryPolicy) ceiling(attempt int) time.Duration {
	c := p.InitialBackoff
	for i := 1; i < attempt && c < p.MaxBackoff; i++ {
		c *= 2
	}
	if c > p.MaxBackoff {
		c = p.MaxBackoff
	}
	return c
}

// delay is the wait after a failed attempt without Retry-After: uniform in [0, ceiling).
func (b *backoff) delay(p RetryPolicy, attempt int) time.Duration {
	c := p.ceiling(attempt)
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Duration(b.rnd.Int63n(int64(c) + 1))
}

// afterRetryAfter waits what the server asked plus up to a tenth more, so that clients told the
// same second do not all come back in the same instant.
func (b *backoff) afterRetryAfter(d time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return d + time.Duration(b.rnd.Int63n(int64(d)/10+1))
}
