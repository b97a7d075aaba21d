package credentials

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"sync"
	"time"
)

// The speed tricks of this package: the five that the README's figures for
// BenchmarkMint and BenchmarkVerify need (Mint at most 3x
// BenchmarkHMACFloor, and neither more than 10 % above its README figure).
// Each is measured against the plain way by a benchmark of
// fastpath_test.go; everything else is written the plain way.
//
// Figures: instructions per operation counted by valgrind (GOMAXPROCS=1),
// which do not vary with the load of a shared machine, and ns/op from
// adjacent runs on a 2-core AMD EPYC.

// run applies the rules in order. Verify's judgement (no explainRun)
// stops at the first failure; Explain's goes on, skipping the rules whose
// input could not be decoded.
//
// Rule dispatch by a switch: the rule table names each check function
// instead of holding it as a function value, because the Go compiler moves
// the argument of a call through a function value to the heap. With the
// switch, Verify's judgement (664 bytes) stays on its stack.
// BenchmarkFastpathDispatch: 768 B and 6 allocations per Verify, against
// 1,472 B and 7 with function values; CPU time per Verify (GOMAXPROCS=1,
// 11 rounds on a busy machine) 2,910 ns minimum and 3,410 median, against
// 3,100 and 3,840. Instructions differ by 1 % only: the cost is the
// heap's, not the calls'. Against the former Verify, one function, CPU
// time medians came 20-35 % higher without the switch and 6-11 % higher
// with it.
func (j *judgement) run() {
	for i := range rules {
		r := &rules[i]
		if r.needs&^j.have != 0 {
			continue
		}
		j.ri = i
		switch r.check {
		case checkSize:
			judgeSize(j)
		case checkParts:
			judgeParts(j)
		case checkBase64:
			judgeBase64(j)
		case checkJSON:
			judgeJSON(j)
		case checkAlg:
			judgeAlg(j)
		case checkSigned:
			judgeSigned(j)
		case checkKid:
			judgeKid(j)
		case checkTypCrit:
			judgeTypCrit(j)
		case checkClaimTypes:
			judgeClaimTypes(j)
		case checkIssPresent:
			judgeIssPresent(j)
		case checkIss:
			judgeIss(j)
		case checkApplication:
			judgeApplication(j)
		case checkKidDate:
			judgeKidDate(j)
		case checkSignature:
			judgeSignature(j)
		case checkSubPresent:
			judgeSubPresent(j)
		case checkSub:
			judgeSub(j)
		case checkUserID:
			judgeUserID(j)
		case checkUser:
			judgeUser(j)
		case checkRequired:
			judgeRequired(j)
		case checkTokenTTL:
			judgeTokenTTL(j)
		case checkIat:
			judgeIat(j)
		case checkNbf:
			judgeNbf(j)
		case checkExp:
			judgeExp(j)
		case checkInstanceTTL:
			judgeInstanceTTL(j)
		case checkNonce:
			judgeNonce(j)
		default:
			panic("credentials: the rule table names an unknown check")
		}
		if j.stop || j.err != nil && j.ex == nil {
			return
		}
	}
}

// dateKey is a derived signing key plus a pool of HMAC states keyed with it.
//
// Pooled HMAC states: hmac.Reset restores a used state to "keyed" without
// hashing the key pads again, and the pool saves the 7 allocations (896 B)
// of hmac.New. BenchmarkFastpathSign: 15,900 instructions per signature
// pooled, 24,000 with hmac.New. BenchmarkMint: 20,400 instructions and 1
// allocation per token with the pool, 28,100 and 8 without; its ratio to
// BenchmarkHMACFloor went from 2.9x to 4.7-5.8x without the pool, over the
// 3x target.
type dateKey struct {
	key  []byte
	pool sync.Pool // of *macState
}

// macState is a keyed HMAC, a buffer for its sum and one for its input, so
// that signing allocates nothing.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
	in  []byte
}

func newDateKey(key []byte) *dateKey {
	dk := &dateKey{key: key}
	dk.pool.New = func() any { return &macState{h: hmac.New(sha256.New, dk.key)} }
	return dk
}

// sign returns HMAC-SHA256(key, input).
func (dk *dateKey) sign(input string) [sha256.Size]byte {
	st := dk.pool.Get().(*macState)
	st.in = append(st.in[:0], input...)
	st.h.Reset()
	st.h.Write(st.in)
	st.h.Sum(st.sum[:0])
	sum := st.sum
	dk.pool.Put(st)
	return sum
}

// randBuf holds crypto/rand output read 512 bytes at a time, so that one
// read serves 32 nonces. Every byte is handed out once and cleared.
//
// Buffered nonce randomness: BenchmarkFastpathNonce: 55-70 ns per nonce
// buffered, 90-100 ns with one crypto/rand.Read each (218 and 471
// instructions, the kernel's work not counted). The 30-35 ns are 4-5 % of
// BenchmarkMint's README figure, which the plain signing input (copied,
// not aliased with unsafe) already costs 2 % of: without the buffer, Mint
// would come too near the 10 % allowed.
type randBuf struct {
	b [512]byte
	n int
}

var randPool = sync.Pool{New: func() any { return &randBuf{n: 512} }}

// random16 fills u from crypto/rand.
func random16(u *[16]byte) {
	rb := randPool.Get().(*randBuf)
	if rb.n+len(u) > len(rb.b) {
		_, _ = rand.Read(rb.b[:]) // never fails (crypto/rand.Read's contract since Go 1.24)
		rb.n = 0
	}
	copy(u[:], rb.b[rb.n:])
	clear(rb.b[rb.n : rb.n+len(u)])
	rb.n += len(u)
	randPool.Put(rb)
}

// splitPrefix encodes once the claims that are the same in every token of
// a Minter, {"iss":"//rtc.sinch.com/applications/KEY","sub":"...KEY/users/:
// it returns the base64url of the prefix's longest multiple-of-3 head,
// which concatenates with the encoding of the tail and what follows it,
// and the tail.
//
// Claims prefix encoded once: BenchmarkFastpathPrefix: 1,700 instructions
// to encode a token's claims from the prefix, 4,000 to encode them whole
// (the ~100 bytes of the prefix are half of them). BenchmarkMint: 20,400
// instructions per token, 23,100 without.
func splitPrefix(prefix []byte) (string, []byte) {
	head := len(prefix) - len(prefix)%3
	return base64.RawURLEncoding.EncodeToString(prefix[:head]), prefix[head:]
}

// mintDate is the per-date part of minting: the encoded header plus '.',
// and the derived key, for the UTC day from (its first second) until the
// next.
type mintDate struct {
	from, until int64
	header      string
	key         *dateKey
}

// forDate returns the header and key for now's UTC date, from the one-entry
// cache when the date has not changed (the common case: a lock-free hit).
//
// Date cached per Minter: BenchmarkFastpathDate: 38 instructions from the
// cache, 3,700 and 6 allocations to compute (a keyring lookup under its
// mutex and the header's encoding). BenchmarkMint: 20,400 instructions and
// 1 allocation per token, 24,100 and 7 without.
func (m *Minter) forDate(now time.Time) *mintDate {
	s := now.Unix()
	if md := m.today.Load(); md != nil && md.from <= s && s < md.until {
		return md
	}
	md := m.newMintDate(now)
	m.today.Store(md)
	return md
}

// newMintDate computes the per-date part of minting for now's UTC date.
func (m *Minter) newMintDate(now time.Time) *mintDate {
	y, mo, d := now.UTC().Date()
	day := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	date := FormatDate(day)
	md := &mintDate{from: day.Unix(), until: day.AddDate(0, 0, 1).Unix(), key: m.keys.forDate(date)}
	hdr := `{"alg":"HS256","kid":"` + KidPrefix + date + `"}`
	md.header = base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "."
	return md
}
