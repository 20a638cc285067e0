package auditlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Version is the version of this SDK, sent in the User-Agent header.
const Version = "0.1.0"

// DefaultTimeout bounds one attempt of a request that does not stream (exports are bounded only
// by their context).
const DefaultTimeout = 30 * time.Second

// maxErrorBody is how much of an error answer is read; error envelopes are small.
const maxErrorBody = 1 << 20

// Client talks to one audit log service. Make one with NewClient and share it: it is safe for
// concurrent use.
type Client struct {
	baseURL   *url.URL // for String; requests use base
	base      string   // scheme://host[/prefix], no query
	http      *http.Client
	tokens    TokenSource
	userAgent string
	retry     RetryPolicy
	timeout   time.Duration
	backoff   *backoff

	trustedKeys map[string]ed25519.PublicKey // pinned with WithTrustedKey; nil: fetched and cached
	keysMu      sync.Mutex
	keysCache   map[string]ed25519.PublicKey
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the *http.Client used for every request (its transport, proxy and TLS
// settings). Its Timeout, if any, also bounds exports; per-attempt timeouts are set with
// WithTimeout instead.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithToken authenticates every request with a fixed bearer token.
func WithToken(token string) Option {
	return func(c *Client) { c.tokens = StaticToken(token) }
}

// WithTokenSource authenticates every request with a token from ts, asked before every attempt so
// that it can refresh tokens before they expire.
func WithTokenSource(ts TokenSource) Option {
	return func(c *Client) { c.tokens = ts }
}

// WithRetry replaces the retry policy (DefaultRetryPolicy). RetryPolicy{MaxAttempts: 1} turns
// retries off.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) { c.retry = p.withDefaults() }
}

// WithUserAgent puts product (e.g. "billing-service/2.3") in front of the SDK's own User-Agent.
func WithUserAgent(product string) Option {
	return func(c *Client) {
		if product != "" {
			c.userAgent = product + " " + defaultUserAgent()
		}
	}
}

// WithTimeout bounds each attempt of a request that does not stream (DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithTrustedKey pins a checkpoint signing key (the raw 32-byte Ed25519 key the service
// publishes). With at least one pinned key, VerifyEvent and VerifyCheckpoints accept only
// checkpoints signed by pinned keys and never fetch keys from the service, which is the
// stronger check: a server that lies about its log cannot also choose the key.
func WithTrustedKey(key ed25519.PublicKey) Option {
	return func(c *Client) {
		if c.trustedKeys == nil {
			c.trustedKeys = map[string]ed25519.PublicKey{}
		}
		c.trustedKeys[KeyID(key)] = key
	}
}

func defaultUserAgent() string {
	return fmt.Sprintf("auditlog-go/%s (%s)", Version, runtime.Version())
}

// NewClient returns a client of the service at baseURL (e.g. "http://127.0.0.1:8080"; a path
// prefix, if the API sits behind one, is kept).
func NewClient(baseURL string, opts ...Option) *Client {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		// Requests will fail with this as the cause; NewClient itself stays error-free, as in
		// net/http's NewRequest callers, so that it can be used in variable declarations.
		u = &url.URL{Scheme: "invalid", Opaque: baseURL}
	}
	base := *u
	base.RawQuery, base.Fragment = "", ""
	c := &Client{
		baseURL:   u,
		base:      base.String(),
		http:      &http.Client{},
		userAgent: defaultUserAgent(),
		retry:     DefaultRetryPolicy(),
		timeout:   DefaultTimeout,
		backoff:   newBackoff(),
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// String describes the client without its credentials.
func (c *Client) String() string {
	return fmt.Sprintf("auditlog.Client{baseURL: %s, auth: %s}", c.baseURL.Redacted(), describeAuth(c.tokens))
}

// GoString is String: %#v must not show the token either.
func (c *Client) GoString() string { return c.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s) print String, never the fields.
func (c *Client) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, c.String()) }

func describeAuth(ts TokenSource) string {
	switch ts.(type) {
	case nil:
		return "none"
	case StaticToken:
		return "static token [redacted]"
	default:
		return "token source [redacted]"
	}
}

// request is one logical call; it may take several attempts.
type request struct {
	op      string // the OpenAPI operationId, for error messages
	method  string
	path    string
	query   url.Values
	body    []byte // JSON, resent as is on every attempt
	noRetry bool
	// notIdempotent calls are retried only after answers that say nothing was done (429, 503),
	// never after a lost answer or another 5xx.
	notIdempotent bool
	stream        bool // the caller reads the body; no per-attempt timeout
}

// url joins the base URL, an escaped path (path parameters go through url.PathEscape) and the
// query.
func (c *Client) url(path string, query url.Values) string {
	if len(query) == 0 {
		return c.base + path
	}
	return c.base + path + "?" + query.Encode()
}

// send runs the attempts of r and returns the successful (2xx) answer, whose body the caller
// closes. Every other outcome is an error: *APIError for answers, a wrapped transport error
// otherwise.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	if c.baseURL.Scheme == "invalid" {
		return nil, fmt.Errorf("auditlog: %s: invalid base URL %q", r.op, c.baseURL.Opaque)
	}
	attempts := c.retry.MaxAttempts
	if r.noRetry {
		attempts = 1
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, cancel, err := c.attempt(ctx, r)
		if err == nil && resp.StatusCode < 300 {
			if cancel != nil {
				resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			}
			return resp, nil
		}
		var wait time.Duration
		retryable := false
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("auditlog: %s %s: %w", r.method, r.path, ctx.Err())
			}
			var te *tokenError
			if errors.As(err, &te) {
				return nil, fmt.Errorf("auditlog: %s: the token source failed: %w", r.op, te.err)
			}
			lastErr = &TransportError{Op: r.op, Method: r.method, Path: r.path, Err: err}
			retryable = !r.notIdempotent
		} else {
			apiErr := readAPIError(resp, r)
			if cancel != nil {
				cancel()
			}
			lastErr = apiErr
			retryable = apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode == http.StatusServiceUnavailable ||
				(apiErr.StatusCode >= 500 && !r.notIdempotent)
			wait = apiErr.RetryAfter
			if wait > c.retry.MaxRetryAfter {
				// Waiting that long inside one call helps no one; the caller sees RetryAfter.
				return nil, apiErr
			}
		}
		if !retryable || attempt >= attempts {
			return nil, lastErr
		}
		if wait > 0 {
			wait = c.backoff.afterRetryAfter(wait)
		} else {
			wait = c.backoff.delay(c.retry, attempt)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("auditlog: %s %s: %w (after: %v)", r.method, r.path, err, lastErr)
		}
	}
}

// attempt makes one HTTP exchange. The cancel function, when not nil, releases the attempt's
// timeout and must be called once the body has been read.
func (c *Client) attempt(ctx context.Context, r request) (*http.Response, context.CancelFunc, error) {
	var cancel context.CancelFunc
	if !r.stream && c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	fail := func(err error) (*http.Response, context.CancelFunc, error) {
		if cancel != nil {
			cancel()
		}
		return nil, nil, err
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.url(r.path, r.query), body)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.tokens != nil {
		token, err := c.tokens.Token(ctx)
		if err != nil {
			return fail(&tokenError{err})
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fail(scrubURLError(err))
	}
	return resp, cancel, nil
}

// scrubURLError keeps the cause of a transport failure but drops the URL's user info, should a
// base URL carry any.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			return &url.Error{Op: ue.Op, URL: u.Redacted(), Err: ue.Err}
		}
	}
	return err
}

type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// call sends r and decodes a JSON answer into out (when out is not nil).
func (c *Client) call(ctx context.Context, r request, out interface{}) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &TransportError{Op: r.op, Method: r.method, Path: r.path,
			Err: fmt.Errorf("decoding the %d answer: %w", resp.StatusCode, err)}
	}
	return nil
}

func jsonBody(v interface{}) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("auditlog: encoding the request body: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
