package auditlog

import "context"

// TokenSource gives the bearer token of a request. It is asked before every attempt, so an
// implementation can refresh a token shortly before it expires; it must be safe for concurrent
// use.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// TokenFunc adapts a function to TokenSource.
type TokenFunc func(ctx context.Context) (string, error)

// Token calls f.
func (f TokenFunc) Token(ctx context.Context) (string, error) { return f(ctx) }

// StaticToken is a fixed bearer token. It prints as "[redacted]".
type StaticToken string

// Token returns the token.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// String hides the token from logs and error messages.
func (t StaticToken) String() string { return "[redacted]" }

// GoString hides the token from %#v.
func (t StaticToken) GoString() string { return "auditlog.StaticToken([redacted])" }
