package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/internal/excerpt"
	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// Request is what a client asks a Provider for: a registration token for one
// user of one application.
type Request struct {
	ApplicationKey string // may be empty: the provider's own application
	UserID         string // the user to register
	// InstanceTTL is true when the token must carry sinch:rtc:instance:exp:
	// the instance on this device was created with a limited TTL (once
	// limited, always limited) or its TTL is being extended.
	InstanceTTL bool
}

// Provider supplies registration tokens (JWTs). A SinchClient with a
// Provider answers OnCredentialsRequired by itself.
//
// Tokens carry a single-use nonce, so a Provider must mint or fetch a new
// token on every call; there is deliberately no caching wrapper.
type Provider interface {
	Token(ctx context.Context, req Request) (string, error)
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(ctx context.Context, req Request) (string, error)

// Token calls f.
func (f ProviderFunc) Token(ctx context.Context, req Request) (string, error) { return f(ctx, req) }

// Immediate is implemented by a Provider whose Token returns without
// waiting on anything: no I/O, no other goroutine, no lock held for long.
// A SinchClient asks such a provider on its own goroutine instead of
// starting one per request. SelfSignedProvider is one.
type Immediate interface {
	Provider
	// Immediate reports whether Token never waits.
	Immediate() bool
}

// SelfSignedProvider mints tokens locally with the application secret.
//
// For tests, bots and simulations only: Sinch's documentation warns never
// to ship the application secret inside a client application. Production clients get
// their tokens from an auth server (HTTPProvider).
type SelfSignedProvider struct {
	m *Minter
}

// NewSelfSignedProvider returns a Provider backed by a Minter for cfg. When
// a request asks for an instance TTL and cfg.InstanceTTL is 0,
// RecommendedInstanceTTL (twelve months) is used.
func NewSelfSignedProvider(cfg MinterConfig) (*SelfSignedProvider, error) {
	m, err := NewMinter(cfg)
	if err != nil {
		return nil, err
	}
	return &SelfSignedProvider{m: m}, nil
}

// Immediate reports true: minting is computation only (see [Immediate]).
func (p *SelfSignedProvider) Immediate() bool { return true }

// Token implements Provider. It fails when req names another application.
func (p *SelfSignedProvider) Token(ctx context.Context, req Request) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if req.ApplicationKey != "" && req.ApplicationKey != p.m.cfg.ApplicationKey {
		return "", fmt.Errorf("credentials: self-signed provider holds the secret of application %q, not %q", p.m.cfg.ApplicationKey, req.ApplicationKey)
	}
	return p.m.MintWith(MintParams{UserID: req.UserID, RequireInstanceTTL: req.InstanceTTL})
}

// HTTPProviderConfig configures an HTTPProvider.
type HTTPProviderConfig struct {
	// URL is a template; {userId}, {applicationKey} and {instanceTtl}
	// ("true"/"false", or seconds: see InstanceTTL) are substituted, path-escaped before the '?' and
	// query-escaped after it. Required. Errors never show its query string,
	// which may hold an API key.
	URL string
	// Method is GET (default) or POST.
	Method string
	// Body is the POST body template, with the same placeholders
	// (JSON-escaped). Empty means
	// {"userId":"{userId}","applicationKey":"{applicationKey}","instanceTtl":{instanceTtl}}.
	Body string
	// Field names the JSON member holding the token; default "token". A
	// response that is not JSON is taken whole as the token.
	Field string
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	// Timeout bounds one request; default 10 s.
	Timeout time.Duration
	// Client is the HTTP client; default a new one.
	Client *http.Client
	// InstanceTTL, when positive, is the instance TTL to ask for: in a
	// request that needs a limited TTL, {instanceTtl} becomes this TTL in
	// whole seconds (e.g. 259200) instead of "true". A request that needs
	// none still gets "false".
	InstanceTTL time.Duration
}

// HTTPProvider fetches tokens from the application's auth server: the
// server that holds the secret (the setup Sinch's Application
// authentication pages recommend).
type HTTPProvider struct {
	cfg HTTPProviderConfig
}

// MaxAuthResponse bounds how much of an auth server's answer is read.
const MaxAuthResponse = 64 << 10

// NewHTTPProvider validates cfg and returns an HTTPProvider.
func NewHTTPProvider(cfg HTTPProviderConfig) (*HTTPProvider, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("%w: auth server URL is empty", ErrConfig)
	}
	if cfg.InstanceTTL < 0 {
		return nil, fmt.Errorf("%w: negative instance TTL", ErrConfig)
	}
	probe := expandURL(cfg.URL, Request{UserID: "u", ApplicationKey: "k"}, 0)
	u, err := url.Parse(probe)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: auth server URL %q is not an http(s) URL", ErrConfig, redactURL(cfg.URL))
	}
	cfg.Method = strings.ToUpper(cfg.Method)
	switch cfg.Method {
	case "":
		cfg.Method = http.MethodGet
	case http.MethodGet, http.MethodPost:
	default:
		return nil, fmt.Errorf("%w: method %q; use GET or POST", ErrConfig, cfg.Method)
	}
	if cfg.Method == http.MethodPost && cfg.Body == "" {
		cfg.Body = `{"userId":"{userId}","applicationKey":"{applicationKey}","instanceTtl":{instanceTtl}}`
	}
	if cfg.Field == "" {
		cfg.Field = "token"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return &HTTPProvider{cfg: cfg}, nil
}

// HTTPError is returned when the auth server answers with a non-2xx status.
type HTTPError struct {
	Method     string // GET or POST
	URL        string // without query string or user info
	StatusCode int    // e.g. 401
	Status     string // e.g. "401 Unauthorized"
	// Body is an excerpt (at most 200 characters, control characters removed).
	Body string
}

// Error says which request failed and how, with the body excerpt.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("credentials: auth server %s %s answered %s", e.Method, e.URL, e.Status)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// ErrNoToken is wrapped when an auth server's 2xx answer holds no token.
var ErrNoToken = errors.New("credentials: auth server returned no token")

// Token implements Provider.
func (p *HTTPProvider) Token(ctx context.Context, req Request) (string, error) {
	tok, _, err := p.Fetch(ctx, req)
	return tok, err
}

// Fetch is Token that also returns the raw response body, for diagnosis.
func (p *HTTPProvider) Fetch(ctx context.Context, req Request) (token string, body []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	target := expandURL(p.cfg.URL, req, p.cfg.InstanceTTL)
	var rb io.Reader
	if p.cfg.Method == http.MethodPost {
		rb = strings.NewReader(expandTemplate(p.cfg.Body, req, p.cfg.InstanceTTL, jsonEscape))
	}
	hr, err := http.NewRequestWithContext(ctx, p.cfg.Method, target, rb)
	if err != nil {
		return "", nil, fmt.Errorf("credentials: auth server request %s %s: %w", p.cfg.Method, redactURL(target), unwrapURLError(err))
	}
	for k, vs := range p.cfg.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	if rb != nil && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json, application/jwt, text/plain")
	resp, err := p.cfg.Client.Do(hr)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return "", nil, fmt.Errorf("credentials: auth server %s %s did not answer in time (timeout %v): %w", p.cfg.Method, redactURL(target), p.cfg.Timeout, context.DeadlineExceeded)
		}
		return "", nil, fmt.Errorf("credentials: auth server %s %s: %w", p.cfg.Method, redactURL(target), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, MaxAuthResponse+1))
	if err != nil {
		return "", nil, fmt.Errorf("credentials: reading auth server answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", body, &HTTPError{Method: p.cfg.Method, URL: redactURL(target), StatusCode: resp.StatusCode, Status: resp.Status, Body: excerpt.Line(body, 200)}
	}
	if len(body) > MaxAuthResponse {
		return "", nil, fmt.Errorf("%w: answer is larger than %d bytes", ErrNoToken, MaxAuthResponse)
	}
	tok, err := TokenFromBody(body, p.cfg.Field)
	return tok, body, err
}

// TokenFromBody extracts a token from an auth server's answer: the string
// member field of a JSON object, or the whole body (trimmed) when it is
// not JSON. HTML, empty bodies and missing fields are errors wrapping ErrNoToken.
func TokenFromBody(body []byte, field string) (string, error) {
	t := bytes.TrimSpace(body)
	switch {
	case len(t) == 0:
		return "", fmt.Errorf("%w: the answer is empty", ErrNoToken)
	case t[0] == '<':
		return "", fmt.Errorf("%w: the answer is HTML or XML, not a token: %s", ErrNoToken, excerpt.Line(t, 80))
	case t[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(t, &m); err != nil {
			return "", fmt.Errorf("%w: the answer looks like JSON but does not parse: %v", ErrNoToken, err)
		}
		raw, ok := m[field]
		if !ok {
			names := make([]string, 0, len(m))
			for k := range m {
				names = append(names, strconv.Quote(k))
			}
			return "", fmt.Errorf("%w: the JSON answer has no %q member (it has %s)", ErrNoToken, field, strings.Join(names, ", "))
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			return "", fmt.Errorf("%w: the JSON member %q is not a non-empty string", ErrNoToken, field)
		}
		return strings.TrimSpace(s), nil
	case t[0] == '"':
		var s string
		if err := json.Unmarshal(t, &s); err == nil && s != "" {
			return s, nil
		}
	}
	if bytes.ContainsAny(t, " \t\r\n") {
		return "", fmt.Errorf("%w: the answer is text, not a token: %s", ErrNoToken, excerpt.Line(t, 80))
	}
	return string(t), nil
}

// expandURL substitutes the placeholders of a URL template, escaping them
// for the path before the '?' and for the query after it. ttl is
// HTTPProviderConfig.InstanceTTL.
func expandURL(tmpl string, req Request, ttl time.Duration) string {
	path, query, hasQuery := strings.Cut(tmpl, "?")
	out := expandTemplate(path, req, ttl, url.PathEscape)
	if hasQuery {
		out += "?" + expandTemplate(query, req, ttl, url.QueryEscape)
	}
	return out
}

func expandTemplate(tmpl string, req Request, ttl time.Duration, esc func(string) string) string {
	if !strings.Contains(tmpl, "{") {
		return tmpl
	}
	limited := strconv.FormatBool(req.InstanceTTL)
	if req.InstanceTTL && ttl > 0 {
		limited = strconv.FormatInt(int64(ttl/time.Second), 10)
	}
	return strings.NewReplacer(
		"{userId}", esc(req.UserID),
		"{applicationKey}", esc(req.ApplicationKey),
		"{instanceTtl}", limited,
	).Replace(tmpl)
}

func jsonEscape(s string) string {
	b := jsonobj.AppendString(nil, s)
	return string(b[1 : len(b)-1])
}

// redactURL drops the query string and user info, which may hold API keys.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
