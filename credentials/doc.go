// Package credentials mints and verifies Sinch RTC registration tokens and
// the legacy registration signatures, and supplies them to clients through
// pluggable providers.
//
// A registration token is an HS256 JWT with header
// {"alg":"HS256","kid":"hkdfv1-YYYYMMDD"} and claims iss, sub, iat, exp,
// nonce and optionally sinch:rtc:instance:exp, signed with a key derived
// from the application secret for the token's UTC date:
//
//	signingKey = HMAC-SHA256(BASE64-DECODE(secret), "YYYYMMDD")
//
// Minting and verifying, in short:
//
//	m, _ := credentials.NewMinter(credentials.MinterConfig{
//		ApplicationKey: "a32e5a8d-f7d8-411c-9645-9038e8dd051d",
//		Secret:         credentials.MustParseSecret("ax8hTTQJF0OPXL32r1LHMA=="),
//	})
//	jwt, _ := m.Mint("foo")
//
//	keys := credentials.NewKeyring()
//	keys.Add("a32e5a8d-f7d8-411c-9645-9038e8dd051d", credentials.MustParseSecret("ax8hTTQJF0OPXL32r1LHMA=="))
//	tok, err := credentials.NewVerifier(keys, credentials.VerifierConfig{}).Verify(jwt, credentials.VerifyOptions{User: "foo"})
//
// With the time and nonce of the example on Sinch's Application
// authentication page (MintWith), the Minter reproduces its example token
// byte for byte; see ExampleMinter_MintWith.
//
// Verification applies every token rule that needs no server state and
// returns an *Error whose Code says which rule failed (see Codes and
// docs/ERRORS.md); replay protection plugs in through NonceStore. Explain
// goes further and names the classic mistakes of hand-written auth servers.
//
// Minting and verification do not go through golang-jwt's generic encoder
// and parser: the token must come out in an exact byte order, duplicate
// JSON members must be refused, and each rule needs its own code, at a cost
// of one HMAC per token. golang-jwt stays the interoperability reference:
// Claims implements jwt.Claims, and the tests check that every minted token
// verifies with golang-jwt and that golang-jwt's tokens (typ header, sorted
// claims) verify here.
//
// Secrets are held in Secret, which never prints; no error or log line of
// this package contains a secret or a derived key.
package credentials
