package credentials

import (
	"math"
	"strconv"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/sinchsim/sinchsim/internal/jsonobj"
)

// NonceStore is the hook through which a backend plugs in replay protection
// (rule 7 in docs/RULES.md). The verifier calls Use only for tokens that passed every
// other rule, so forged tokens cannot fill the store.
type NonceStore interface {
	// Use records nonce for applicationKey until validUntil (the token's exp
	// plus leeway) and reports whether it was unused. An error means the
	// store could not decide (it is full, or unreachable): Verify returns
	// that error as it is, and the token is neither accepted nor called a
	// replay.
	Use(applicationKey, nonce string, validUntil time.Time) (fresh bool, err error)
}

// DefaultLeeway is the clock skew a Verifier tolerates on iat, nbf and exp.
const DefaultLeeway = 30 * time.Second

// VerifierConfig configures a Verifier. The zero value is usable.
type VerifierConfig struct {
	// Clock supplies "now"; nil means the real clock.
	Clock clock.Clock
	// Leeway is the tolerated clock skew; 0 means DefaultLeeway, a negative
	// value means none.
	Leeway time.Duration
	// Nonces, when set, rejects replayed nonces with nonce_reused.
	Nonces NonceStore
}

// Verifier checks registration tokens against every token rule of
// docs/RULES.md (1-8). It is safe for concurrent use.
type Verifier struct {
	keys   *Keyring
	clock  clock.Clock
	leeway time.Duration
	nonces NonceStore
}

// NewVerifier returns a Verifier for the applications in keys. keys may
// change afterwards (applications added or removed).
func NewVerifier(keys *Keyring, cfg VerifierConfig) *Verifier {
	v := &Verifier{keys: keys, clock: cfg.Clock, leeway: leeway(cfg.Leeway), nonces: cfg.Nonces}
	if v.clock == nil {
		v.clock = clock.New()
	}
	return v
}

// leeway reads a configured leeway: 0 means DefaultLeeway, a negative
// value none.
func leeway(configured time.Duration) time.Duration {
	switch {
	case configured == 0:
		return DefaultLeeway
	case configured < 0:
		return 0
	}
	return configured
}

// Leeway returns the tolerated clock skew.
func (v *Verifier) Leeway() time.Duration { return v.leeway }

// VerifyOptions are the per-registration inputs of Verify.
type VerifyOptions struct {
	// User, when set, must be the user named in sub (the connecting user).
	User string
	// ChallengeTime is when the client was asked for credentials; its UTC
	// date is an accepted kid date (rule 3 in docs/RULES.md). Zero: only today's date.
	ChallengeTime time.Time
	// Now overrides the Verifier's clock for this call.
	Now time.Time
}

// tokenJSON reads a token's header or payload (and Claims.UnmarshalJSON's
// input): one strict JSON object of at most 64 members, in valid UTF-8,
// without duplicate members. anyBytesJSON is as strict but for UTF-8, for
// Explain to name the members that hold invalid UTF-8.
var (
	tokenJSON    = jsonobj.Options{MaxMembers: 64}
	anyBytesJSON = jsonobj.Options{MaxMembers: 64, AllowInvalidUTF8: true}
)

// Verify decodes and checks token against the rules of the rule table
// (rules.go), in its order, and stops at the first that fails. On success
// it returns the decoded token; otherwise a nil token and an *Error whose
// code is the failing rule's:
//
//   - token_malformed: the structure first: size, three parts, each
//     base64url, header and payload JSON objects
//   - token_algorithm, token_malformed (no signature), kid_invalid,
//     token_malformed (typ, crit): the header
//   - claim_invalid: the claims' JSON types
//   - claim_missing, claim_invalid: iss
//   - unknown_application, kid_date_mismatch, signature_invalid
//   - claim_missing (sub), subject_mismatch, user_id_invalid
//   - claim_missing (iat, exp, nonce), token_ttl_too_short,
//     token_not_yet_valid, token_expired, instance_ttl_too_short
//   - nonce_reused (only with a NonceStore, only for an otherwise valid
//     token); an error of the store is returned as it is
func (v *Verifier) Verify(token string, opt VerifyOptions) (*Token, error) {
	now := opt.Now
	if now.IsZero() {
		now = v.clock.Now()
	}
	j := &judgement{ // on the stack: see (*judgement).run
		tok:       &Token{Raw: token},
		now:       now,
		challenge: opt.ChallengeTime,
		user:      opt.User,
		leeway:    v.leeway,
		keys:      v.keys,
		nonces:    v.nonces,
	}
	j.run()
	if j.err != nil {
		return nil, j.err
	}
	return j.tok, nil
}

// kidDateAccepted is rule 3's date test: the challenge's UTC date, or any
// UTC date touched by now ± leeway (so a token minted a second before
// midnight still verifies a second after it). date is a YYYYMMDD that
// parseKidDate accepted.
func kidDateAccepted(date string, now, challenge time.Time, leeway time.Duration) bool {
	d := 0
	for i := 0; i < len(date); i++ {
		d = d*10 + int(date[i]-'0')
	}
	if !challenge.IsZero() && dateNumber(challenge) == d {
		return true
	}
	return dateNumber(now.Add(-leeway)) <= d && d <= dateNumber(now.Add(leeway))
}

// dateNumber is t's UTC date as the number YYYYMMDD, which orders as the
// dates do.
func dateNumber(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

// parseNumericDate accepts a JSON number (RFC 7519 allows fractions) and
// returns whole seconds, rounded up or down. Rounding is always towards the
// stricter reading: iat and nbf up (later), exp and the instance expiry down
// (earlier), so that whole-second checks never accept what the exact
// fractional times would refuse (a TTL of 59.9 s, an nbf 30.5 s ahead).
func parseNumericDate(raw []byte, up bool) (int64, bool) {
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64/2 || f < math.MinInt64/2 {
		return 0, false
	}
	if up {
		return int64(math.Ceil(f)), true
	}
	return int64(math.Floor(f)), true
}

// roundsUp reports whether a time claim is rounded up (see parseNumericDate).
func roundsUp(claim string) bool { return claim == "iat" || claim == "nbf" }
