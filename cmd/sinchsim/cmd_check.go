package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"syscall"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
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

func runCheck(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("--url TEMPLATE --app-key KEY --app-secret SECRET [flags]", checkAbout)
	url := fs.String("url", "", "the auth server's token URL `TEMPLATE`; {userId}, {applicationKey} and\n{instanceTtl} (true or false) are substituted (required)")
	appKey := fs.String("app-key", "", usageAppKey+" (required)")
	secretText := fs.String("app-secret", "", usageAppSecret+" (required);\n"+usageSecretEnv)
	var users, headers listFlag
	fs.Var(&users, "user", "a `USER` id to ask tokens for (repeatable); default "+strings.Join(credentials.DefaultCheckUsers(), ", "))
	method := fs.String("method", http.MethodGet, "the HTTP `METHOD`: GET or POST")
	body := fs.String("body", "", "the POST body `TEMPLATE`, with the URL's placeholders (JSON-escaped); default\n{\"userId\":\"{userId}\",\"applicationKey\":\"{applicationKey}\",\"instanceTtl\":{instanceTtl}}")
	field := fs.String("field", "token", "the `NAME` of the JSON member that holds the token; an answer that is not\nJSON is the token itself")
	fs.Var(&headers, "header", "a request header as `'Name: value'` (repeatable), e.g. an Authorization\nheader; never printed")
	requests := fs.Int("requests", credentials.DefaultCheckRequests, "fetch `N` tokens, asking for the users in turn")
	instanceTTL := fs.Bool("instance-ttl-expected", false, "ask for a limited instance TTL ({instanceTtl} is true) and fail tokens\nwithout sinch:rtc:instance:exp")
	asJSON := fs.Bool("json", false, "print one JSON object {findings, summary} instead of lines")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.maxArgs(0); !ok {
		return code
	}
	if code, ok := fs.require("url", "app-key", "app-secret"); !ok {
		return code
	}
	secret, code, ok := parseSecret(fs, *secretText)
	if !ok {
		return code
	}
	m := strings.ToUpper(*method)
	switch {
	case m != http.MethodGet && m != http.MethodPost:
		return fs.invalid("--method %s: use GET or POST", quoteArg(*method))
	case *body != "" && m != http.MethodPost:
		return fs.invalid("--body is sent only with --method POST")
	case *field == "":
		return fs.invalid("--field is empty: name the JSON member that holds the token")
	case *requests < 1 || *requests > credentials.MaxCheckRequests:
		return fs.invalid("--requests %d: ask for 1 to %d tokens", *requests, credentials.MaxCheckRequests)
	}
	for _, u := range users {
		if u == "" {
			return fs.invalid("--user is empty")
		}
	}
	h, err := parseHeaders(headers)
	if err != nil {
		return fs.invalid("%v", err)
	}

	report, err := credentials.Check(ctx, credentials.CheckConfig{
		URL:                 *url,
		Method:              m,
		Body:                *body,
		Field:               *field,
		Header:              h,
		Timeout:             checkTimeout,
		ApplicationKey:      *appKey,
		Secret:              secret,
		Users:               users,
		Requests:            *requests,
		InstanceTTLExpected: *instanceTTL,
		Now:                 e.now,
	})
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

	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			e.errorf("cannot encode the report: %v", err)
			return exitFail
		}
	} else {
		fmt.Fprint(e.stdout, printable(report.String()))
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
