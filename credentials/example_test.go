package credentials_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
)

// The reference input of Sinch's Application authentication page.
const (
	applicationKey = "a32e5a8d-f7d8-411c-9645-9038e8dd051d"
	secretText     = "ax8hTTQJF0OPXL32r1LHMA=="
)

var challengeTime = time.Date(2018, 1, 2, 3, 4, 5, 0, time.UTC)

// Minting reproduces the documentation's example token byte for byte.
func ExampleMinter_MintWith() {
	m, err := credentials.NewMinter(credentials.MinterConfig{
		ApplicationKey: applicationKey,
		Secret:         credentials.MustParseSecret(secretText),
		TTL:            600 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	token, err := m.MintWith(credentials.MintParams{
		UserID: "foo",
		Nonce:  "6b438bda-2d5c-4e8c-92b0-39f20a94b34e",
		Now:    challengeTime,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(token)
	// Output:
	// eyJhbGciOiJIUzI1NiIsImtpZCI6ImhrZGZ2MS0yMDE4MDEwMiJ9.eyJpc3MiOiIvL3J0Yy5zaW5jaC5jb20vYXBwbGljYXRpb25zL2EzMmU1YThkLWY3ZDgtNDExYy05NjQ1LTkwMzhlOGRkMDUxZCIsInN1YiI6Ii8vcnRjLnNpbmNoLmNvbS9hcHBsaWNhdGlvbnMvYTMyZTVhOGQtZjdkOC00MTFjLTk2NDUtOTAzOGU4ZGQwNTFkL3VzZXJzL2ZvbyIsImlhdCI6MTUxNDg2MjI0NSwiZXhwIjoxNTE0ODYyODQ1LCJub25jZSI6IjZiNDM4YmRhLTJkNWMtNGU4Yy05MmIwLTM5ZjIwYTk0YjM0ZSJ9.EUltTTD4fxhkwCgLgj6qSQXKawpwQ952Ywm3OwQSARo
}

// A backend verifies a registration token and branches on the rejection code.
func ExampleVerifier_Verify() {
	keys := credentials.NewKeyring()
	keys.Add(applicationKey, credentials.MustParseSecret(secretText))
	v := credentials.NewVerifier(keys, credentials.VerifierConfig{})

	const token = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhrZGZ2MS0yMDE4MDEwMiJ9.eyJpc3MiOiIvL3J0Yy5zaW5jaC5jb20vYXBwbGljYXRpb25zL2EzMmU1YThkLWY3ZDgtNDExYy05NjQ1LTkwMzhlOGRkMDUxZCIsInN1YiI6Ii8vcnRjLnNpbmNoLmNvbS9hcHBsaWNhdGlvbnMvYTMyZTVhOGQtZjdkOC00MTFjLTk2NDUtOTAzOGU4ZGQwNTFkL3VzZXJzL2ZvbyIsImlhdCI6MTUxNDg2MjI0NSwiZXhwIjoxNTE0ODYyODQ1LCJub25jZSI6IjZiNDM4YmRhLTJkNWMtNGU4Yy05MmIwLTM5ZjIwYTk0YjM0ZSJ9.EUltTTD4fxhkwCgLgj6qSQXKawpwQ952Ywm3OwQSARo"
	opt := credentials.VerifyOptions{User: "foo", ChallengeTime: challengeTime, Now: challengeTime.Add(time.Minute)}
	tok, err := v.Verify(token, opt)
	if err != nil {
		panic(err)
	}
	fmt.Println("registered:", tok.Claims.UserID, "until", time.Unix(tok.Claims.ExpiresAt, 0).UTC().Format(time.TimeOnly))

	// Another user put into the payload, the signature kept.
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), "/users/foo", "/users/eve", 1))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	_, err = v.Verify(tampered, opt)
	fmt.Println("tampered:", credentials.CodeOf(err))
	// Output:
	// registered: foo until 03:14:05
	// tampered: signature_invalid
}

// The legacy scheme (rule 12 in docs/RULES.md): an auth server signs the user, the
// application and a sequence that increases with every registration.
func ExampleLegacySignature() {
	secret := credentials.MustParseSecret("oYdgGRXoxEuJhGDY2KQ/HQ==")
	const appKey = "196087a1-e815-4bc4-8984-60d8d8a43f1d"
	sig := credentials.LegacySignature("alice", appKey, 1, secret)
	fmt.Println(sig)

	fmt.Println(credentials.VerifyLegacy("alice", appKey, 1, sig, secret, 0))
	fmt.Println(credentials.CodeOf(credentials.VerifyLegacy("alice", appKey, 1, sig, secret, 1)))
	// Output:
	// 7NYSnv8J5/aLOjlQALjGY+OmdD4=
	// <nil>
	// sequence_not_increasing
}

// An auth server with the classic mistake: the HMAC key is derived
// from the secret's base64 text instead of its decoded bytes. Explain names
// the mistake.
func ExampleExplain() {
	mac := hmac.New(sha256.New, []byte(secretText)) // the bug: no base64 decoding
	mac.Write([]byte("20180102"))
	wrongKey := mac.Sum(nil)

	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","kid":"hkdfv1-20180102"}`))
	claims := enc.EncodeToString([]byte(`{"iss":"//rtc.sinch.com/applications/` + applicationKey +
		`","sub":"//rtc.sinch.com/applications/` + applicationKey + `/users/foo",` +
		`"iat":1514862245,"exp":1514862845,"nonce":"6b438bda-2d5c-4e8c-92b0-39f20a94b34e"}`))
	mac = hmac.New(sha256.New, wrongKey)
	mac.Write([]byte(header + "." + claims))
	token := header + "." + claims + "." + enc.EncodeToString(mac.Sum(nil))

	x := credentials.Explain(token, credentials.ExplainOptions{
		Secret: credentials.MustParseSecret(secretText),
		Now:    challengeTime,
	})
	for _, f := range x.Findings {
		fmt.Println(f.Severity, f.Code)
	}
	// Output:
	// FAIL secret_not_base64_decoded
	// FAIL signature_invalid
}
