package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"syscall"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/internal/excerpt"
)

var checkCommand = command{
	name:    "check",
	summary: "fetch tokens from your auth server and say in one line each what is wrong with them",
	run:     runCheck,
}

const checkAbout = `Asks your auth server for registration tokens as a Sinch client would (GET
or POST to --url, {userId} substituted), for several user ids, and checks
each token against every rule a fresh registration meets, then what only
shows across tokens: a nonce used twice, kid dates that drift, iat away from
this machine's clock, and with --instance-ttl-expected a missing
sinch:rtc:instance:exp. The classic mistakes have their own codes:
secret_not_base64_decoded (the HMAC key was the secret's text),
kid_date_not_utc, timestamps_in_milliseconds, nonce_reused, header_typo.
Unusual but valid tokens (typ header, sorted keys, long TTL) get WARN or
PASS, never FAIL.

Output: one line per finding, "PASS|WARN|FAIL code: explanation and fix",
then a summary line; with --json one JSON object {findings, summary}.

Exit 0 when no finding is a FAIL, 1 when one is, 2 on a usage error or when
the auth server cannot be asked (unreachable, too slow, an error status,
an answer that holds no token).`

// checkTimeout bounds each request to the auth server; 0 is the provider's
// default (10 s). Tests shorten it.
var checkTimeout time.Duration

// checkFlags holds check's flags; define registers them, validate checks
// them and config turns them into the checker's configuration.
type checkFlags struct {
	url, appKey, secretText string
	method, body, field     string
	users, headers          listFlag
	requests                int
	instanceTTL, asJSON     bool
	secret                  credentials.Secret // set by validate
	header                  http.Header        // set by validate
}

func (f *checkFlags) define(fs *flagSet) {
	fs.StringVar(&f.url, "url", "", "the auth server's token URL `TEMPLATE`; {userId}, {applicationKey} and\n{instanceTtl} (true or false) are substituted (required)")
	fs.StringVar(&f.appKey, "app-key", "", usageAppKey+" (required)")
	fs.StringVar(&f.secretText, "app-secret", "", usageAppSecret+" (required);\n"+usageSecretEnv)
	fs.Var(&f.users, "user", "a `USER` id to ask tokens for (repeatable); default "+strings.Join(credentials.DefaultCheckUsers(), ", "))
	fs.StringVar(&f.method, "method", http.MethodGet, "the HTTP `METHOD`: GET or POST")
	fs.StringVar(&f.body, "body", "", "the POST body `TEMPLATE`, with the URL's placeholders (JSON-escaped); default\n{\"userId\":\"{userId}\",\"applicationKey\":\"{applicationKey}\",\"instanceTtl\":{instanceTtl}}")
	fs.StringVar(&f.field, "field", "token", "the `NAME` of the JSON member that holds the token; an answer that is not\nJSON is the token itself")
	fs.Var(&f.headers, "header", "a request header as `'Name: value'` (repeatable), e.g. an Authorization\nheader; never printed")
	fs.IntVar(&f.requests, "requests", credentials.DefaultCheckRequests, "fetch `N` tokens, asking for the users in turn")
	fs.BoolVar(&f.instanceTTL, "instance-ttl-expected", false, "ask for a limited instance TTL ({instanceTtl} is true) and fail tokens\nwithout sinch:rtc:instance:exp")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON object {findings, summary} instead of lines")
}

// validate checks the flags and parses the secret and the headers; every
// error is a usageErr.
func (f *checkFlags) validate(fs *flagSet) error {
	if err := fs.require("url", "app-key", "app-secret"); err != nil {
		return err
	}
	var err error
	if f.secret, err = parseSecret(fs, f.secretText); err != nil {
		return err
	}
	m := strings.ToUpper(f.method)
	switch {
	case m != http.MethodGet && m != http.MethodPost:
		return usagef("--method %s: use GET or POST", excerpt.Quote(f.method, 40))
	case f.body != "" && m != http.MethodPost:
		return usagef("--body is sent only with --method POST")
	case f.field == "":
		return usagef("--field is empty: name the JSON member that holds the token")
	case f.requests < 1 || f.requests > credentials.MaxCheckRequests:
		return usagef("--requests %d: ask for 1 to %d tokens", f.requests, credentials.MaxCheckRequests)
	}
	for _, u := range f.users {
		if u == "" {
			return usagef("--user is empty")
		}
	}
	if f.header, err = parseHeaders(f.headers); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// config returns the checker's configuration; call it after validate.
func (f *checkFlags) config(now func() time.Time) credentials.CheckConfig {
	return credentials.CheckConfig{
		URL:                 f.url,
		Method:              strings.ToUpper(f.method),
		Body:                f.body,
		Field:               f.field,
		Header:              f.header,
		Timeout:             checkTimeout,
		ApplicationKey:      f.appKey,
		Secret:              f.secret,
		Users:               f.users,
		Requests:            f.requests,
		InstanceTTLExpected: f.instanceTTL,
		Now:                 now,
	}
}

func runCheck(ctx context.Context, e *env, args []string) int {
	var f checkFlags
	fs := e.newFlags("--url TEMPLATE --app-key KEY --app-secret SECRET [flags]", checkAbout)
	f.define(fs)
	if code, ok := fs.parseAll(args, 0); !ok {
		return code
	}
	if err := f.validate(fs); err != nil {
		return fs.fail(err)
	}
	report, err := credentials.Check(ctx, f.config(e.now))
	switch {
	case err == nil:
	case ctx.Err() != nil:
		e.errorf("interrupted")
		return exitInterrupted
	case errors.Is(err, credentials.ErrConfig):
		return fs.invalid("%s", strings.TrimPrefix(err.Error(), credentials.ErrConfig.Error()+": "))
	default:
		e.errorf("%s%s", strings.TrimPrefix(err.Error(), "credentials: "), fetchHint(err))
		return exitUsage
	}
	if code := printJSONOr(e, report, f.asJSON, "cannot encode the report"); code != exitOK {
		return code
	}
	if report.Failed() {
		return exitFail
	}
	return exitOK
}

// parseHeaders reads --header values, "Name: value". Errors never quote
// the value, which may be a credential.
func parseHeaders(vals []string) (http.Header, error) {
	h := http.Header{}
	for i, v := range vals {
		name, value, ok := strings.Cut(v, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
			return nil, fmt.Errorf("--header number %d is not 'Name: value'", i+1)
		}
		value = strings.TrimSpace(value)
		if strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("--header %s has a line break in its value", name)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(name), value)
	}
	return h, nil
}

// fetchHint suggests the flag to look at when the auth server could not be
// asked, or "".
func fetchHint(err error) string {
	var he *credentials.HTTPError
	switch {
	case errors.As(err, &he) && (he.StatusCode == http.StatusUnauthorized || he.StatusCode == http.StatusForbidden):
		return " (if the auth server needs credentials, pass them with --header 'Authorization: ...')"
	case errors.As(err, &he) && (he.StatusCode == http.StatusNotFound || he.StatusCode == http.StatusMethodNotAllowed):
		return " (check --url and --method)"
	case errors.Is(err, credentials.ErrNoToken) && strings.Contains(err.Error(), " member "):
		return " (name the member that holds the token with --field)"
	case errors.Is(err, credentials.ErrNoToken) && strings.Contains(err.Error(), "HTML"):
		return " (is --url the token endpoint rather than a page?)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return " (is the auth server running at that address?)"
	}
	return ""
}
