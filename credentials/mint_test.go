package credentials

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

func TestReferenceInstanceExpiryExample(t *testing.T) {
	// The reference vector's second payload: the same token with a 48 h instance TTL.
	m, err := NewMinter(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue, InstanceTTL: MinInstanceTTL})
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := m.MintWith(MintParams{UserID: seedUser, Nonce: seedNonce, Now: seedTime})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	want := `{"iss":"` + seedIss + `","sub":"` + seedSub + `","iat":1514862245,"exp":1514862845,"nonce":"` + seedNonce + `","sinch:rtc:instance:exp":1515035045}`
	if string(payload) != want {
		t.Fatalf("payload\n%s\nwant\n%s", payload, want)
	}
	if !strings.HasPrefix(jwt, strings.Split(seedJWT, ".")[0]+".") {
		t.Fatal("header differs from the reference vector's")
	}
	// NoInstanceTTL gives back the plain seed token.
	plain, err := m.MintWith(MintParams{UserID: seedUser, Nonce: seedNonce, Now: seedTime, NoInstanceTTL: true})
	if err != nil || plain != seedJWT {
		t.Fatalf("NoInstanceTTL: %v\n%s", err, plain)
	}
}

func TestNewMinterConfig(t *testing.T) {
	good := MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue}
	for name, mod := range map[string]func(*MinterConfig){
		"no application key":        func(c *MinterConfig) { c.ApplicationKey = "" },
		"no secret":                 func(c *MinterConfig) { c.Secret = Secret{} },
		"ttl 59 s":                  func(c *MinterConfig) { c.TTL = 59 * time.Second },
		"negative ttl":              func(c *MinterConfig) { c.TTL = -time.Minute },
		"ttl not whole seconds":     func(c *MinterConfig) { c.TTL = time.Minute + time.Millisecond },
		"instance ttl 48h - 1s":     func(c *MinterConfig) { c.InstanceTTL = MinInstanceTTL - time.Second },
		"instance ttl fractional":   func(c *MinterConfig) { c.InstanceTTL = MinInstanceTTL + time.Millisecond },
		"instance ttl negative":     func(c *MinterConfig) { c.InstanceTTL = -MinInstanceTTL },
		"application key not UTF-8": func(c *MinterConfig) { c.ApplicationKey = "a\xffb" },
		"application key with /":    func(c *MinterConfig) { c.ApplicationKey = "a/b" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			mod(&cfg)
			m, err := NewMinter(cfg)
			if !errors.Is(err, ErrConfig) || m != nil {
				t.Fatalf("err = %v", err)
			}
			assertNoSecret(t, "config error", err.Error())
		})
	}
	m, err := NewMinter(good)
	if err != nil {
		t.Fatal(err)
	}
	if m.ApplicationKey() != seedAppKey {
		t.Errorf("ApplicationKey = %q", m.ApplicationKey())
	}
}

func TestMintWith(t *testing.T) {
	mc := clock.NewMock()
	mc.Set(seedTime)
	m, err := NewMinter(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue, Clock: mc, TTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := seedVerifier(nil)

	// Rejected parameters.
	for _, u := range []string{"", "a b", "jörg", strings.Repeat("x", 256), "a\xff"} {
		if _, err := m.Mint(u); CodeOf(err) != CodeUserIDInvalid || !errors.Is(err, ErrUserIDInvalid) {
			t.Errorf("Mint(%q) err = %v", u, err)
		}
	}
	for name, p := range map[string]MintParams{
		"ttl 30 s":          {UserID: "u", TTL: 30 * time.Second},
		"instance ttl 24 h": {UserID: "u", InstanceTTL: 24 * time.Hour},
		"nonce not UTF-8":   {UserID: "u", Nonce: "\xff"},
		"nonce too long":    {UserID: "u", Nonce: strings.Repeat("n", MaxNonceLength+1)},
	} {
		if _, err := m.MintWith(p); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v", name, err)
		}
	}

	// The clock gives iat; the TTL gives exp; the UTC date gives kid.
	jwt, err := m.Mint("alice")
	if err != nil {
		t.Fatal(err)
	}
	tk, err := v.Verify(jwt, VerifyOptions{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Claims.IssuedAt != seedTime.Unix() || tk.Claims.TTL() != 5*time.Minute || tk.Header.Kid != Kid(seedTime) || tk.Claims.InstanceExpiresAt != 0 {
		t.Fatalf("claims %+v header %+v", tk.Claims, tk.Header)
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !uuid.MatchString(tk.Claims.Nonce) {
		t.Errorf("nonce %q is not a version 4 UUID", tk.Claims.Nonce)
	}
	// Just before midnight UTC in a zone where it is already tomorrow: the
	// kid and the key still use the UTC date.
	late := time.Date(2018, 1, 2, 23, 59, 59, 0, time.UTC).In(time.FixedZone("UTC+9", 9*3600))
	jwt, err = m.MintWith(MintParams{UserID: "alice", Now: late, InstanceTTL: RecommendedInstanceTTL, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tk, err = v.Verify(jwt, VerifyOptions{Now: late})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Header.Kid != "hkdfv1-20180102" || tk.Claims.InstanceTTL() != RecommendedInstanceTTL || tk.Claims.TTL() != time.Minute {
		t.Fatalf("late token: %+v %+v", tk.Header, tk.Claims)
	}
	// Nonces that need escaping survive the round trip.
	for _, n := range []string{`"quoted"`, `back\slash`, "tab\tnewline\n", "ctl\x01", "é😀", "\u2028"} {
		jwt, err := m.MintWith(MintParams{UserID: "alice", Nonce: n})
		if err != nil {
			t.Fatal(err)
		}
		tk, err := v.Verify(jwt, VerifyOptions{})
		if err != nil || tk.Claims.Nonce != n {
			t.Fatalf("nonce %q: %v %+v", n, err, tk)
		}
	}
	// Random nonces differ.
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		n := NewNonce()
		if seen[n] || !uuid.MatchString(n) {
			t.Fatalf("nonce %q repeated or malformed", n)
		}
		seen[n] = true
	}
}

func TestMintVerifyConcurrent(t *testing.T) {
	mc := clock.NewMock()
	mc.Set(seedTime)
	m, _ := NewMinter(MinterConfig{ApplicationKey: seedAppKey, Secret: seedSecretValue, Clock: mc})
	v, _ := seedVerifier(newMemNonces(mc))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				day := time.Duration(i%3-1) * 24 * time.Hour
				jwt, err := m.MintWith(MintParams{UserID: "u", Now: seedTime.Add(day)})
				if err == nil {
					_, err = v.Verify(jwt, VerifyOptions{Now: seedTime.Add(day)})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestKidAndDates(t *testing.T) {
	if got := Kid(seedTime); got != "hkdfv1-20180102" {
		t.Errorf("Kid = %s", got)
	}
	if got := FormatDate(seedTime.In(time.FixedZone("UTC-5", -5*3600))); got != "20180102" {
		t.Errorf("FormatDate in UTC-5 = %s", got)
	}
	if got := FormatDate(time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC)); got != "19991231" {
		t.Errorf("FormatDate = %s", got)
	}
	if got, want := FormatDate(seedTime), seedTime.UTC().Format(DateFormat); got != want {
		t.Errorf("FormatDate = %s, layout gives %s", got, want)
	}
	if string(SigningKey(seedSecretValue, seedTime)) != string(SigningKeyForDate(seedSecretValue, seedDate)) {
		t.Error("SigningKey and SigningKeyForDate differ")
	}
	if Issuer("k") != "//rtc.sinch.com/applications/k" || Subject("k", "u") != "//rtc.sinch.com/applications/k/users/u" {
		t.Error("Issuer/Subject")
	}
}

// The example inputs of the legacy scheme's documentation.
const (
	legacyAppKey = "196087a1-e815-4bc4-8984-60d8d8a43f1d"
	legacySecret = "oYdgGRXoxEuJhGDY2KQ/HQ=="
)

func TestLegacySignature(t *testing.T) {
	secret := MustParseSecret(legacySecret)
	// An independent reading of the legacy scheme's documented pseudo-code.
	sum := sha1.Sum([]byte("alice" + legacyAppKey + "1" + legacySecret))
	want := base64.StdEncoding.EncodeToString(sum[:])
	if got := LegacySignature("alice", legacyAppKey, 1, secret); got != want {
		t.Fatalf("LegacySignature = %s, want %s", got, want)
	}
	if err := VerifyLegacy("alice", legacyAppKey, 1, want, secret, 0); err != nil {
		t.Fatal(err)
	}
	// Trailing newline from a line-breaking Base64 encoder: tolerated.
	if err := VerifyLegacy("alice", legacyAppKey, 1, want+"\r\n", secret, 0); err != nil {
		t.Fatal(err)
	}
	// The largest sequence.
	max := ^uint64(0)
	if err := VerifyLegacy("alice", legacyAppKey, max, LegacySignature("alice", legacyAppKey, max, secret), secret, max-1); err != nil {
		t.Fatal(err)
	}
	// A forged signature says nothing about the sequence.
	if err := VerifyLegacy("alice", legacyAppKey, 1, "AAAA", secret, 5); CodeOf(err) != CodeSignatureInvalid {
		t.Fatalf("forged and stale: %v", err)
	}
	if err := VerifyLegacy("alice", legacyAppKey, 1, want, secret, 1); !errors.Is(err, ErrSequenceNotIncreasing) {
		t.Fatalf("replayed: %v", err)
	}
}

// TestKidDateAccepted checks the kid date rule's date test against the
// time package, across leap years, centuries and negative Unix times: the
// dates touched by now ± leeway, and the challenge's, are accepted, no
// other.
func TestKidDateAccepted(t *testing.T) {
	start := time.Date(1899, 12, 25, 0, 0, 0, 0, time.UTC)
	const lee = 30 * time.Second
	for day := 0; day < 400*366; day += 7 {
		tm := start.AddDate(0, 0, day)
		for _, off := range []time.Duration{-lee, 0, time.Second, 12 * time.Hour, 24*time.Hour - time.Second} {
			now := tm.Add(off)
			for _, d := range []int{-2, -1, 0, 1, 2} {
				date := tm.AddDate(0, 0, d).Format(DateFormat)
				want := date == now.Add(-lee).UTC().Format(DateFormat) || date == now.Add(lee).UTC().Format(DateFormat)
				if got := kidDateAccepted(date, now, time.Time{}, lee); got != want {
					t.Fatalf("kid date %s at %v: accepted = %v, want %v", date, now, got, want)
				}
				challenge := tm.AddDate(0, 0, d).Add(off + lee)
				if !kidDateAccepted(challenge.UTC().Format(DateFormat), now, challenge, lee) {
					t.Fatalf("the challenge's date %v is refused", challenge)
				}
			}
		}
	}
}
