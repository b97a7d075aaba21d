package credentials

import (
	"encoding/base64"
	"testing"
	"time"
)

// The reference vector of Sinch's Application authentication page: its
// input and output.
const (
	seedAppKey   = "a32e5a8d-f7d8-411c-9645-9038e8dd051d"
	seedSecret   = "ax8hTTQJF0OPXL32r1LHMA=="
	seedUser     = "foo"
	seedNonce    = "6b438bda-2d5c-4e8c-92b0-39f20a94b34e"
	seedKey      = "AZj5EsS8S7wb06xr5jERqPHsraQt3w/+Ih5EfrhisBQ="
	seedJWT      = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhrZGZ2MS0yMDE4MDEwMiJ9.eyJpc3MiOiIvL3J0Yy5zaW5jaC5jb20vYXBwbGljYXRpb25zL2EzMmU1YThkLWY3ZDgtNDExYy05NjQ1LTkwMzhlOGRkMDUxZCIsInN1YiI6Ii8vcnRjLnNpbmNoLmNvbS9hcHBsaWNhdGlvbnMvYTMyZTVhOGQtZjdkOC00MTFjLTk2NDUtOTAzOGU4ZGQwNTFkL3VzZXJzL2ZvbyIsImlhdCI6MTUxNDg2MjI0NSwiZXhwIjoxNTE0ODYyODQ1LCJub25jZSI6IjZiNDM4YmRhLTJkNWMtNGU4Yy05MmIwLTM5ZjIwYTk0YjM0ZSJ9.EUltTTD4fxhkwCgLgj6qSQXKawpwQ952Ywm3OwQSARo"
	seedTimeText = "2018-01-02T03:04:05Z"
)

var seedTime = time.Date(2018, 1, 2, 3, 4, 5, 0, time.UTC)

func TestReferenceSigningKey(t *testing.T) {
	got := base64.StdEncoding.EncodeToString(SigningKey(MustParseSecret(seedSecret), seedTime))
	if got != seedKey {
		t.Fatalf("signing key = %s, want %s", got, seedKey)
	}
	// The date is the UTC date: the same instant seen from UTC-5 (still
	// 2018-01-01 locally) derives the same key.
	ny := seedTime.In(time.FixedZone("UTC-5", -5*3600))
	if got := base64.StdEncoding.EncodeToString(SigningKey(MustParseSecret(seedSecret), ny)); got != seedKey {
		t.Fatalf("signing key from a non-UTC time = %s, want %s", got, seedKey)
	}
}

func TestReferenceTokenByteForByte(t *testing.T) {
	m, err := NewMinter(MinterConfig{ApplicationKey: seedAppKey, Secret: MustParseSecret(seedSecret)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.MintWith(MintParams{UserID: seedUser, Nonce: seedNonce, Now: seedTime})
	if err != nil {
		t.Fatal(err)
	}
	if got != seedJWT {
		t.Fatalf("minted\n%s\nwant\n%s", got, seedJWT)
	}
}

func TestReferenceTokenVerifies(t *testing.T) {
	keys := NewKeyring()
	keys.Add(seedAppKey, MustParseSecret(seedSecret))
	v := NewVerifier(keys, VerifierConfig{})
	tok, err := v.Verify(seedJWT, VerifyOptions{Now: seedTime, User: seedUser})
	if err != nil {
		t.Fatal(err)
	}
	c := tok.Claims
	if c.ApplicationKey != seedAppKey || c.UserID != seedUser || c.IssuedAt != 1514862245 || c.ExpiresAt != 1514862845 || c.Nonce != seedNonce || c.InstanceExpiresAt != 0 {
		t.Fatalf("claims = %+v", c)
	}
	if tok.Header.Alg != "HS256" || tok.Header.Kid != "hkdfv1-20180102" || tok.Header.Typ != "" || len(tok.Header.Extra) != 0 {
		t.Fatalf("header = %+v", tok.Header)
	}
}
