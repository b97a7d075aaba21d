package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
)

var tokenCommand = command{
	name:    "token",
	summary: "mint, verify and explain registration tokens (JWTs)",
	run:     group(tokenAbout, tokenCommands),
}

const tokenAbout = `Registration tokens are the JWTs a Sinch client registers with: header
{"alg":"HS256","kid":"hkdfv1-YYYYMMDD"}, claims iss, sub, iat, exp, nonce and
optionally sinch:rtc:instance:exp, signed with a key derived from the
application secret and the UTC date.`

var tokenCommands = []command{
	{name: "mint", summary: "mint a registration token for a user and print it", run: runTokenMint},
	{name: "verify", summary: "verify a token as the Sinch backend would and print its header and claims", run: runTokenVerify},
	{name: "explain", summary: "decode a token and say in plain words what is wrong with it", run: runTokenExplain},
}

// Flag help shared by the token subcommands.
const (
	usageAppKey    = "application `KEY` from the Sinch dashboard"
	usageAppSecret = "application `SECRET` (base64) from the Sinch dashboard; never printed"
	// usageSecretEnv follows usageAppSecret in every command that takes
	// the flag (see flagSet.parse).
	usageSecretEnv = "when the flag is absent, it is read from the environment variable\nSINCHSIM_APP_SECRET, which keeps it out of ps"
	usageNow       = "the current `TIME` (RFC 3339), for reproducible runs; default the clock"
)

const mintAbout = `Mints a registration token for one user, exactly as Sinch's documentation
specifies (the example of Sinch's "Application authentication" page comes out
byte for byte), and prints it and a newline on stdout.`

// mintFlags holds token mint's flags.
type mintFlags struct {
	appKey, secretText, user, nonce string
	ttl, instanceTTL                time.Duration
	now                             timeFlag
	secret                          credentials.Secret // set by validate
}

func (f *mintFlags) define(fs *flagSet) {
	fs.StringVar(&f.appKey, "app-key", "", usageAppKey+" (required)")
	fs.StringVar(&f.secretText, "app-secret", "", usageAppSecret+" (required);\n"+usageSecretEnv)
	fs.StringVar(&f.user, "user", "", "the `USER` id the token registers: 1-255 bytes of A-Z a-z 0-9 - _ = (required)")
	fs.DurationVar(&f.ttl, "ttl", credentials.DefaultTokenTTL, "token lifetime (exp - iat) as a `DURATION`; at least 1m")
	fs.DurationVar(&f.instanceTTL, "instance-ttl", 0, "adds sinch:rtc:instance:exp = iat + this `DURATION`;\nat least 48h (Sinch recommends 8760h); 0 leaves the claim out")
	fs.StringVar(&f.nonce, "nonce", "", "the `NONCE` claim; default a random UUID (never reuse one)")
	fs.Var(&f.now, "now", "iat as a `TIME` (RFC 3339); default the current time")
}

// validate checks the flags and parses the secret; every error is a
// usageErr.
func (f *mintFlags) validate(fs *flagSet) error {
	if err := fs.require("app-key", "app-secret", "user"); err != nil {
		return err
	}
	var err error
	if f.secret, err = parseSecret(fs, f.secretText); err != nil {
		return err
	}
	if err := credentials.ValidateUserID(f.user); err != nil {
		return usagef("--user is not a valid user id: %s", credentials.ReasonOf(err))
	}
	switch {
	case f.ttl < credentials.MinTokenTTL:
		return usagef("--ttl %v is under the %v Sinch requires", f.ttl, credentials.MinTokenTTL)
	case f.ttl%time.Second != 0:
		return usagef("--ttl %v is not whole seconds", f.ttl)
	case f.instanceTTL != 0 && f.instanceTTL < credentials.MinInstanceTTL:
		return usagef("--instance-ttl %v is under the %v Sinch requires (0 leaves the claim out)", f.instanceTTL, credentials.MinInstanceTTL)
	case f.instanceTTL%time.Second != 0:
		return usagef("--instance-ttl %v is not whole seconds", f.instanceTTL)
	}
	return nil
}

// config returns the minter's configuration; call it after validate.
func (f *mintFlags) config() credentials.MinterConfig {
	return credentials.MinterConfig{
		ApplicationKey: f.appKey,
		Secret:         f.secret,
		TTL:            f.ttl,
		InstanceTTL:    f.instanceTTL,
	}
}

func runTokenMint(ctx context.Context, e *env, args []string) int {
	var f mintFlags
	fs := e.newFlags("--app-key KEY --app-secret SECRET --user USER [flags]", mintAbout)
	f.define(fs)
	if code, ok := fs.parseAll(args, 0); !ok {
		return code
	}
	if err := f.validate(fs); err != nil {
		return fs.fail(err)
	}
	m, err := credentials.NewMinter(f.config())
	if err != nil {
		return fs.invalid("%v", err)
	}
	tok, err := m.MintWith(credentials.MintParams{UserID: f.user, Nonce: f.nonce, Now: f.now.or(e.now)})
	if err != nil {
		if errors.Is(err, credentials.ErrConfig) || credentials.CodeOf(err) != "" {
			return fs.invalid("%v", err)
		}
		e.errorf("%v", err)
		return exitFail
	}
	fmt.Fprintln(e.stdout, tok)
	return exitOK
}

const verifyAbout = `Verifies a token with every rule of the Sinch backend that needs no server
state (replay protection needs one: see the fake backend). TOKEN is the token,
or - (or nothing) to read it from stdin.

Valid: exit 0 and the header and claims, as the token encodes them, in one
JSON object {"header": ..., "claims": ...}.
Invalid: exit 1 and one line on stderr, "code: reason", where code is a stable
rejection code such as signature_invalid or token_expired. When the cause is a
usual mistake (the secret's text used as the HMAC key, a key not derived, a
kid date in local time, milliseconds), a second line names it:
"diagnosis: code: what and the fix" (token explain lists every finding).`

// verifyFlags holds token verify's flags.
type verifyFlags struct {
	appKey, secretText, user string
	leeway                   time.Duration
	now, challenge           timeFlag
	secret                   credentials.Secret // set by validate
}

func (f *verifyFlags) define(fs *flagSet) {
	fs.StringVar(&f.appKey, "app-key", "", usageAppKey+" (required)")
	fs.StringVar(&f.secretText, "app-secret", "", usageAppSecret+" (required);\n"+usageSecretEnv)
	fs.StringVar(&f.user, "user", "", "the `USER` registering: sub must name this user")
	fs.DurationVar(&f.leeway, "leeway", credentials.DefaultLeeway, "tolerated clock skew as a `DURATION`, on iat, nbf, exp and the kid date;\n0 for none")
	fs.Var(&f.now, "now", usageNow)
	fs.Var(&f.challenge, "challenge-time", "when the client was asked for credentials, as a `TIME` (RFC 3339):\nits UTC date is accepted as the kid date besides today's\n(rule 3 in docs/RULES.md)")
}

// validate checks the flags and parses the secret; every error is a
// usageErr.
func (f *verifyFlags) validate(fs *flagSet) error {
	if err := fs.require("app-key", "app-secret"); err != nil {
		return err
	}
	var err error
	if f.secret, err = parseSecret(fs, f.secretText); err != nil {
		return err
	}
	if f.leeway < 0 {
		return usagef("--leeway %v is negative", f.leeway)
	}
	return nil
}

// verifierLeeway is --leeway in VerifierConfig's terms: there 0 is the
// default and a negative leeway is none.
func (f *verifyFlags) verifierLeeway() time.Duration {
	if f.leeway == 0 {
		return -1
	}
	return f.leeway
}

// config returns the verifier and the options to verify with at now.
func (f *verifyFlags) config(now time.Time) (*credentials.Verifier, credentials.VerifyOptions) {
	keys := credentials.NewKeyring()
	keys.Add(f.appKey, f.secret)
	v := credentials.NewVerifier(keys, credentials.VerifierConfig{Leeway: f.verifierLeeway()})
	return v, credentials.VerifyOptions{User: f.user, ChallengeTime: f.challenge.t, Now: now}
}

// explainOptions are the options of the diagnosis after a rejection.
func (f *verifyFlags) explainOptions(now time.Time) credentials.ExplainOptions {
	return credentials.ExplainOptions{
		ApplicationKey: f.appKey,
		Secret:         f.secret,
		User:           f.user,
		Now:            now,
		ChallengeTime:  f.challenge.t,
		Leeway:         f.verifierLeeway(),
	}
}

func runTokenVerify(ctx context.Context, e *env, args []string) int {
	var f verifyFlags
	fs := e.newFlags("--app-key KEY --app-secret SECRET [flags] [TOKEN | -]", verifyAbout)
	f.define(fs)
	if code, ok := fs.parseAll(args, 1); !ok {
		return code
	}
	if err := f.validate(fs); err != nil {
		return fs.fail(err)
	}
	token, code, ok := readToken(ctx, fs)
	if !ok {
		return code
	}
	now := f.now.or(e.now)
	v, opts := f.config(now)
	tok, err := v.Verify(token, opts)
	if err != nil {
		printRejection(e, err)
		if d := diagnose(token, f.explainOptions(now)); d != "" {
			fmt.Fprintln(e.stderr, d)
		}
		return exitFail
	}
	out, err := tokenJSON(tok)
	if err != nil { // the verifier accepted JSON that encoding/json does not
		e.errorf("cannot print the verified token: %v", err)
		return exitFail
	}
	_, _ = e.stdout.Write(out)
	return exitOK
}

// tokenJSON renders {"header": ..., "claims": ...} from the token's own JSON
// texts, so that member order and number spelling stay as encoded.
func tokenJSON(tok *credentials.Token) ([]byte, error) {
	raw := make([]byte, 0, len(tok.HeaderJSON)+len(tok.ClaimsJSON)+24)
	raw = append(raw, `{"header":`...)
	raw = append(raw, tok.HeaderJSON...)
	raw = append(raw, `,"claims":`...)
	raw = append(raw, tok.ClaimsJSON...)
	raw = append(raw, '}')
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// diagnose returns one line, "diagnosis: code: what and the fix", when
// credentials.Explain recognises the mistake behind a rejection (the
// secret's text used as the HMAC key, an underived key, a local kid date,
// milliseconds), and "" when it does not. The first FAIL diagnosis in the
// order of credentials.DiagCodes wins; token explain lists them all.
func diagnose(token string, opt credentials.ExplainOptions) string {
	x := credentials.Explain(token, opt)
	for _, code := range credentials.DiagCodes() {
		if f := x.Finding(code); f != nil && f.Severity == credentials.Fail {
			msg := strings.Join(strings.Fields(f.Message), " ")
			return printable("diagnosis: " + f.Code + ": " + msg)
		}
	}
	return ""
}

// printRejection prints "code: reason" as the first stderr line, the form
// scripts match on.
func printRejection(e *env, err error) {
	var ce *credentials.Error
	if !errors.As(err, &ce) {
		e.errorf("%v", err)
		return
	}
	reason := ce.Message
	if reason == "" {
		reason = "rejected"
	}
	fmt.Fprintf(e.stderr, "%s: %s\n", ce.Code, reason)
}

const explainAbout = `Decodes a token as far as it can and lists every finding: the rule it breaks
and the classic mistakes of hand-written auth servers (the secret's text used
as the HMAC key instead of its base64 decoding, a kid date in local time,
timestamps in milliseconds, header typos). With the secret it also verifies
the signature and says which wrong key produced it. TOKEN is the token, or -
(or nothing) to read it from stdin.

Exit 0 when no finding is a FAIL, 1 otherwise.`

// explainFlags holds token explain's flags.
type explainFlags struct {
	appKey, secretText, user string
	asJSON                   bool
	now                      timeFlag
	secret                   credentials.Secret // set by validate; zero without --app-secret
}

func (f *explainFlags) define(fs *flagSet) {
	fs.StringVar(&f.appKey, "app-key", "", usageAppKey+"; default the one named by iss")
	fs.StringVar(&f.secretText, "app-secret", "", usageAppSecret+";\n"+usageSecretEnv+";\nwith neither, the signature is not checked")
	fs.StringVar(&f.user, "user", "", "the `USER` registering: sub must name this user")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON object {header, claims, verified, findings}")
	fs.Var(&f.now, "now", usageNow)
}

// validate parses the secret, when one is given; the error is a usageErr.
func (f *explainFlags) validate(fs *flagSet) error {
	if f.secretText == "" {
		return nil
	}
	var err error
	f.secret, err = parseSecret(fs, f.secretText)
	return err
}

// config returns the options to explain with at now.
func (f *explainFlags) config(now time.Time) credentials.ExplainOptions {
	return credentials.ExplainOptions{ApplicationKey: f.appKey, Secret: f.secret, User: f.user, Now: now}
}

func runTokenExplain(ctx context.Context, e *env, args []string) int {
	var f explainFlags
	fs := e.newFlags("[flags] [TOKEN | -]", explainAbout)
	f.define(fs)
	if code, ok := fs.parseAll(args, 1); !ok {
		return code
	}
	if err := f.validate(fs); err != nil {
		return fs.fail(err)
	}
	token, code, ok := readToken(ctx, fs)
	if !ok {
		return code
	}
	x := credentials.Explain(token, f.config(f.now.or(e.now)))
	if code := printJSONOr(e, x, f.asJSON, "cannot encode the explanation"); code != exitOK {
		return code
	}
	if x.Failed() {
		return exitFail
	}
	return exitOK
}

// printJSONOr prints v as indented JSON when asJSON is set, else as its
// String() made printable. what starts the error line when encoding fails.
func printJSONOr(e *env, v fmt.Stringer, asJSON bool, what string) int {
	if !asJSON {
		fmt.Fprint(e.stdout, printable(v.String()))
		return exitOK
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		e.errorf("%s: %v", what, err)
		return exitFail
	}
	return exitOK
}

// parseSecret parses --app-secret (or SINCHSIM_APP_SECRET). The error, a
// usageErr, names the problem and where the secret came from, never the
// secret (credentials' errors are secret-free).
func parseSecret(fs *flagSet, text string) (credentials.Secret, error) {
	s, err := credentials.ParseSecret(text)
	if err != nil {
		detail := strings.TrimPrefix(err.Error(), credentials.ErrSecretInvalid.Error()+": ")
		return s, usagef("%s is not valid base64: %s", fs.secretName(), detail)
	}
	return s, nil
}

// readToken reads TOKEN (or stdin) for verify and explain. On failure it
// has printed the problem and returns the exit status.
func readToken(ctx context.Context, fs *flagSet) (string, int, bool) {
	tok, err := fs.e.readInput(ctx, fs.Args())
	switch {
	case err == nil && tok == "":
		fmt.Fprintf(fs.e.stderr, "%s: the token is empty\n", credentials.CodeTokenMalformed)
		return "", exitFail, false
	case err == nil:
		return tok, exitOK, true
	case errors.Is(err, errNoTTY):
		return "", fs.usageError("%v", err), false
	case errors.Is(err, errTooLarge):
		fmt.Fprintf(fs.e.stderr, "%s: %v; a token is at most %d bytes\n", credentials.CodeTokenMalformed, err, credentials.MaxTokenLength)
		return "", exitFail, false
	case ctx.Err() != nil:
		fs.e.errorf("interrupted")
		return "", exitInterrupted, false
	default:
		fs.e.errorf("%v", err)
		return "", exitFail, false
	}
}

// printable replaces control characters (but newline and tab) so that a
// hostile token's decoded header cannot drive the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return '\uFFFD'
		}
		return r
	}, s)
}
