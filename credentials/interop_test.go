package credentials

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/golang-jwt/jwt/v5"
)

// golangJWTToken mints a token the way a Go auth server using golang-jwt
// would: MapClaims (sorted keys) and the typ header NewWithClaims adds.
func golangJWTToken(tb testing.TB, claims jwt.MapClaims, now time.Time) string {
	tb.Helper()
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = Kid(now)
	s, err := t.SignedString(SigningKey(seedSecretValue, now))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func seedMapClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": seedIss, "sub": seedSub, "iat": 1514862245, "exp": 1514862845, "nonce": seedNonce,
	}
}

// TestGolangJWTTokensVerify: tokens from another encoder (sorted keys, typ,
// whitespace) verify here.
func TestGolangJWTTokensVerify(t *testing.T) {
	withInstance := seedMapClaims()
	withInstance[InstanceExpiryClaim] = 1515035045
	withFloat := seedMapClaims()
	withFloat["iat"] = 1514862245.0
	withFloat["exp"] = 1514862845.5
	tokens := map[string]string{
		"MapClaims":               golangJWTToken(t, seedMapClaims(), seedTime),
		"MapClaims with instance": golangJWTToken(t, withInstance, seedTime),
		"MapClaims with floats":   golangJWTToken(t, withFloat, seedTime),
		"RegisteredClaims-like": golangJWTToken(t, jwt.MapClaims{
			"iss": seedIss, "sub": seedSub, "iat": jwt.NewNumericDate(seedTime), "exp": jwt.NewNumericDate(seedTime.Add(10 * time.Minute)),
			"nonce": seedNonce, "jti": "x",
		}, seedTime),
		"pretty-printed": signJWT(t, "{\n    \"typ\": \"JWT\",\n    \"kid\": \"hkdfv1-20180102\",\n    \"alg\": \"HS256\"\n}",
			"{\n    \"exp\": 1514862845,\n    \"iat\": 1514862245,\n    \"iss\": \""+seedIss+"\",\n    \"nonce\": \""+seedNonce+"\",\n    \"sub\": \""+seedSub+"\"\n}",
			keyFor(seedDate)),
		"json.MarshalIndent": func() string {
			h, _ := json.MarshalIndent(map[string]string{"alg": "HS256", "kid": Kid(seedTime), "typ": "JWT"}, "", "\t")
			c, _ := json.MarshalIndent(map[string]any{"iss": seedIss, "sub": seedSub, "iat": 1514862245, "exp": 1514862845, "nonce": seedNonce}, "", "\t")
			return signJWT(t, string(h), string(c), keyFor(seedDate))
		}(),
	}
	for name, tk := range tokens {
		t.Run(name, func(t *testing.T) {
			v, _ := seedVerifier(nil)
			got, err := v.Verify(tk, VerifyOptions{User: seedUser})
			if err != nil {
				t.Fatal(err)
			}
			if got.Claims.UserID != seedUser || got.Claims.Nonce != seedNonce || got.Claims.IssuedAt != 1514862245 {
				t.Fatalf("claims = %+v", got.Claims)
			}
			x := Explain(tk, ExplainOptions{Secret: seedSecretValue, Now: seedTime})
			if x.Failed() || !x.Verified || x.Findings[0].Code != DiagValid {
				t.Fatalf("explain:\n%s", x)
			}
		})
	}
	// golang-jwt adds typ, and MapClaims sorts the keys.
	hj, _ := base64.RawURLEncoding.DecodeString(strings.Split(tokens["MapClaims"], ".")[0])
	if !strings.Contains(string(hj), `"typ":"JWT"`) {
		t.Fatalf("golang-jwt header has no typ: %s", hj)
	}
}

// golangJWTKeyfunc is a careful golang-jwt Keyfunc: the header is
// unverified, so kid is parsed strictly before a key is derived.
func golangJWTKeyfunc(secret Secret) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok {
			return nil, errors.New("kid is not a string")
		}
		date, ok := parseKidDate(kid)
		if !ok {
			return nil, fmt.Errorf("kid %q is invalid", kid)
		}
		return SigningKeyForDate(secret, date), nil
	}
}

// TestMintedTokensVerifyWithGolangJWT: every token from Minter verifies with
// golang-jwt, as MapClaims and as *Claims.
func TestMintedTokensVerifyWithGolangJWT(t *testing.T) {
	mc := clock.NewMock()
	mc.Set(seedTime)
	m, err := NewMinter(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue, Clock: mc})
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for i, p := range []MintParams{
		{UserID: seedUser, Nonce: seedNonce, Now: seedTime},
		{UserID: "alice"},
		{UserID: "Bob_=-9", TTL: time.Minute},
		{UserID: "carol", InstanceTTL: RecommendedInstanceTTL},
		{UserID: "dave", InstanceTTL: MinInstanceTTL, TTL: time.Hour},
		{UserID: strings.Repeat("z", 255)},
		{UserID: "erin", Nonce: "quote\" backslash\\ tab\t é \u2028"},
		{UserID: "frank", Now: time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},
	} {
		if i > 0 && p.Now.IsZero() {
			mc.Add(time.Hour)
		}
		tk, err := m.MintWith(p)
		if err != nil {
			t.Fatalf("mint %d: %v", i, err)
		}
		tokens = append(tokens, tk)
	}
	for i, tk := range tokens {
		// golang-jwt checks at the token's own iat.
		pj, _ := base64.RawURLEncoding.DecodeString(strings.Split(tk, ".")[1])
		var raw struct{ Iat int64 }
		if err := json.Unmarshal(pj, &raw); err != nil {
			t.Fatal(err)
		}
		iat := raw.Iat
		at := time.Unix(iat, 0)
		t.Run(fmt.Sprintf("token %d", i), func(t *testing.T) {
			var mcl jwt.MapClaims
			parsed, err := jwt.ParseWithClaims(tk, &mcl, golangJWTKeyfunc(seedSecretValue),
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return at }),
				jwt.WithIssuedAt(), jwt.WithExpirationRequired())
			if err != nil || !parsed.Valid {
				t.Fatalf("golang-jwt MapClaims: %v", err)
			}
			if mcl["sub"] == nil || mcl["nonce"] == nil {
				t.Fatalf("MapClaims = %v", mcl)
			}
			if _, ok := parsed.Header["typ"]; ok {
				t.Error("minted header has typ")
			}

			var c Claims
			parsed, err = jwt.ParseWithClaims(tk, &c, golangJWTKeyfunc(seedSecretValue),
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return at }),
				jwt.WithIssuedAt(), jwt.WithExpirationRequired(), jwt.WithIssuer(seedIss))
			if err != nil || !parsed.Valid {
				t.Fatalf("golang-jwt *Claims: %v", err)
			}
			if c.ApplicationKey != seedAppKey || c.UserID == "" || c.IssuedAt != iat || c.Nonce == "" {
				t.Fatalf("claims = %+v", c)
			}
			// And golang-jwt's view agrees with ours.
			v, _ := seedVerifier(nil)
			ours, err := v.Verify(tk, VerifyOptions{Now: at})
			if err != nil {
				t.Fatal(err)
			}
			if ours.Claims != c {
				t.Fatalf("claims differ:\n ours %+v\n jwt  %+v", ours.Claims, c)
			}
		})
	}
}

// TestGolangJWTRejectsWhatWeReject spot-checks that golang-jwt, configured
// as this package uses it, agrees on the cases it can see: wrong algorithm, a
// tampered payload, an expired token.
func TestGolangJWTRejectsWhatWeReject(t *testing.T) {
	sc := seedClaims()
	parse := func(tk string, now time.Time) error {
		_, err := jwt.Parse(tk, golangJWTKeyfunc(seedSecretValue), jwt.WithValidMethods([]string{"HS256"}),
			jwt.WithTimeFunc(func() time.Time { return now }))
		return err
	}
	hs384 := signJWT(t, `{"alg":"HS384","kid":"hkdfv1-20180102"}`, sc.json(), keyFor(seedDate))
	if err := parse(hs384, seedTime); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("HS384: %v", err)
	}
	tampered := strings.Split(seedJWT, ".")
	tampered[1] = base64.RawURLEncoding.EncodeToString([]byte(sc.set("sub", js(subFor("fop"))).json()))
	if err := parse(strings.Join(tampered, "."), seedTime); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("tampered: %v", err)
	}
	if err := parse(seedJWT, seedTime.Add(time.Hour)); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("expired: %v", err)
	}
	// Claims.UnmarshalJSON is strict where encoding/json is not.
	var c Claims
	dup := strings.TrimSuffix(sc.json(), "}") + `,"sub":"x"}`
	if err := json.Unmarshal([]byte(dup), &c); CodeOf(err) != CodeTokenMalformed {
		t.Errorf("duplicate sub: %v", err)
	}
	if err := json.Unmarshal([]byte(sc.set("iat", `"1"`).json()), &c); CodeOf(err) != CodeClaimInvalid {
		t.Errorf("iat as a string: %v", err)
	}
	if err := json.Unmarshal([]byte(sc.set("iss", js("x")).json()), &c); err != nil || c.ApplicationKey != "" || c.UserID != "" {
		t.Errorf("foreign iss: %v %+v", err, c)
	}
}
