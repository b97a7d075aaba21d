package reliability

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/syncbuf"
	"github.com/sinchsim/sinchsim/registration"
	"github.com/sinchsim/sinchsim/transport"
)

// secretSet collects every secret value a scenario uses, in each form it
// could leak in, labelled for the failure message (which never shows the
// value itself).
type secretSet struct {
	mu   sync.Mutex
	vals map[string]string // value -> label
}

func (s *secretSet) add(label, v string) {
	if len(v) < 8 {
		return // too short to be told apart from ordinary text
	}
	s.mu.Lock()
	if s.vals == nil {
		s.vals = map[string]string{}
	}
	s.vals[v] = label
	s.mu.Unlock()
}

// addBytes adds raw key material in every usual text encoding.
func (s *secretSet) addBytes(label string, b []byte) {
	s.add(label+" (base64)", base64.StdEncoding.EncodeToString(b))
	s.add(label+" (base64, no padding)", base64.RawStdEncoding.EncodeToString(b))
	s.add(label+" (base64url)", base64.URLEncoding.EncodeToString(b))
	s.add(label+" (base64url, no padding)", base64.RawURLEncoding.EncodeToString(b))
	s.add(label+" (hex)", hex.EncodeToString(b))
	s.add(label+" (HEX)", strings.ToUpper(hex.EncodeToString(b)))
	s.add(label+" (raw)", string(b))
}

func (s *secretSet) addJWT(label, tok string) {
	s.add(label, tok)
	if i := strings.LastIndexByte(tok, '.'); i >= 0 {
		s.add(label+" signature", tok[i+1:])
	}
}

// addApp adds an application secret, decoded, and its signing keys for
// every date from `from` to `to`.
func (s *secretSet) addApp(label string, sec credentials.Secret, from, to time.Time) {
	s.add(label+" secret (text)", sec.Text())
	s.addBytes(label+" secret (decoded)", sec.Bytes())
	for d := from.Add(-day); !d.After(to.Add(day)); d = d.Add(day) {
		s.addBytes(label+" signing key "+credentials.FormatDate(d), credentials.SigningKey(sec, d))
		// The classic mistake's key (HMAC keyed with the secret's text).
		s.addBytes(label+" text-derived key "+credentials.FormatDate(d), textKey(sec, d))
	}
}

// leaks returns the labels of the secrets found in text.
func (s *secretSet) leaks(text string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for v, label := range s.vals {
		if strings.Contains(text, v) {
			out = append(out, label)
		}
	}
	return out
}

func textKey(sec credentials.Secret, t time.Time) []byte {
	m := hmac.New(sha256.New, []byte(sec.Text()))
	m.Write([]byte(credentials.FormatDate(t)))
	return m.Sum(nil)
}

// textKeyToken is the classic mistake: a token signed with a key derived from
// the secret's text instead of its base64 decoding.
func textKeyToken(app fakebackend.Application, user string, now time.Time) string {
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"HS256","kid":"hkdfv1-` + credentials.FormatDate(now) + `"}`))
	p := enc.EncodeToString([]byte(fmt.Sprintf(`{"iss":"//rtc.sinch.com/applications/%s","sub":"//rtc.sinch.com/applications/%s/users/%s","iat":%d,"exp":%d,"nonce":"%s"}`,
		app.Key, app.Key, user, now.Unix(), now.Add(10*time.Minute).Unix(), credentials.NewNonce())))
	m := hmac.New(sha256.New, textKey(app.Secret, now))
	m.Write([]byte(h + "." + p))
	return h + "." + p + "." + enc.EncodeToString(m.Sum(nil))
}

// transcript gathers everything a user of sinchsim sees: logs, callback
// messages, returned errors, admin API answers, events.
type transcript struct {
	mu    sync.Mutex
	parts map[string]*strings.Builder
}

func (tr *transcript) note(source string, v ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.parts == nil {
		tr.parts = map[string]*strings.Builder{}
	}
	b := tr.parts[source]
	if b == nil {
		b = &strings.Builder{}
		tr.parts[source] = b
	}
	for _, x := range v {
		switch x := x.(type) {
		case nil:
		case error:
			fmt.Fprintf(b, "%v\n%+v\n%#v\n", x, x, x)
		case string:
			b.WriteString(x + "\n")
		default:
			j, _ := json.Marshal(x)
			fmt.Fprintf(b, "%v\n%s\n", x, j)
		}
	}
}

// TestNoSecretsInLogsOrErrors runs a full scenario with debug logging on
// both sides and collects every log line, callback message, returned
// error, admin answer and event; none contains an application secret
// (text or decoded), a signing key, an instance secret, a token or its
// signature, a legacy signature, the admin token or an auth server's
// credentials.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	var secrets secretSet
	var tr transcript
	var srvLog, cliLog syncbuf.Buffer
	const adminToken = "admin-token-7f3a9c2e5b"
	const authKey, authHeader = "auth-api-key-91c4e7", "auth-bearer-55d0a8b3"
	secrets.add("admin token", adminToken)
	secrets.add("auth server API key", authKey)
	secrets.add("auth server header", authHeader)

	app := fakebackend.NewApplication()
	wrong := fakebackend.NewApplication()         // a secret the backend does not know
	dataDir := filepath.Join(t.TempDir(), "data") // created by the backend
	s := mockServer(t, fakebackend.Config{DataDir: dataDir, AdminToken: adminToken, Logger: debugLogger(&srvLog),
		Applications: []fakebackend.Application{app}})
	start := s.Now()
	secrets.addApp("application", app.Secret, start, start.Add(30*day))
	secrets.addApp("wrong application", wrong.Secret, start, start.Add(30*day))

	collect := func() {
		for _, in := range s.Instances() {
			secrets.add("instance secret", string(in.Secret))
		}
	}
	record := func(p credentials.Provider) credentials.Provider {
		return credentials.ProviderFunc(func(ctx context.Context, req credentials.Request) (string, error) {
			tok, err := p.Token(ctx, req)
			secrets.addJWT("token", tok)
			tr.note("provider errors", err)
			return tok, err
		})
	}
	listener := func(renewFails bool) *client.ListenerFuncs {
		return &client.ListenerFuncs{
			ClientFailed: func(c *client.SinchClient, err error) { tr.note("OnClientFailed", err) },
			LogMessage:   func(c *client.SinchClient, level slog.Level, msg string) { tr.note("OnLogMessage", msg) },
			PushTokenRegistrationFailed: func(c *client.SinchClient, err error) {
				tr.note("OnPushTokenRegistrationFailed", err)
			},
			CredentialsRequired: func(c *client.SinchClient, reg *client.ClientRegistration) {
				if renewFails && reg.IsRenewal() {
					reg.RegisterFailed(errors.New("auth backend down"))
					return
				}
				p := provider(t, s, 3*day)
				tok, err := record(p).Token(context.Background(), credentials.Request{UserID: c.UserID(), InstanceTTL: reg.InstanceTTLRequired()})
				if err != nil {
					reg.RegisterFailed(err)
					return
				}
				reg.Register(tok)
			},
		}
	}
	logger := debugLogger(&cliLog)
	hourly := registration.DefaultRenewal{Backoff: registration.Backoff{Initial: time.Hour, Max: time.Hour, Jitter: -1}}
	newBot := func(user string, opts ...client.Option) *bot {
		b := &bot{user: user, store: client.NewMemoryDeviceStore()}
		o := append([]client.Option{client.WithClock(s.Clock()), client.WithBackoff(fixedBackoff), client.WithDeviceStore(b.store),
			client.WithLogger(logger), client.WithInstanceTTL(true), client.WithRenewalPolicy(hourly)}, opts...)
		c, err := client.New(app.Key, s.URL(), user, o...)
		if err != nil {
			t.Fatal(err)
		}
		b.c = c
		t.Cleanup(c.TerminateGracefully)
		return b
	}

	defer http.DefaultClient.CloseIdleConnections()
	// An auth server that wants an API key and a bearer header, and can be
	// told to fail.
	var authDown sync.Mutex
	down := false
	minter := s.Minter()
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authDown.Lock()
		d := down
		authDown.Unlock()
		if d || r.URL.Query().Get("key") != authKey || r.Header.Get("Authorization") != "Bearer "+authHeader {
			http.Error(w, "no token for you", http.StatusInternalServerError)
			return
		}
		p := credentials.MintParams{UserID: r.URL.Query().Get("user")}
		if r.URL.Query().Get("ttl") == "true" {
			p.InstanceTTL = 3 * day
		}
		tok, _ := minter.MintWith(p)
		secrets.addJWT("token from the auth server", tok)
		json.NewEncoder(w).Encode(map[string]string{"token": tok})
	}))
	defer auth.Close()
	httpProv, err := credentials.NewHTTPProvider(credentials.HTTPProviderConfig{
		URL:    auth.URL + "/token?user={userId}&ttl={instanceTtl}&key=" + authKey,
		Header: http.Header{"Authorization": {"Bearer " + authHeader}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dirStore, err := client.NewDirDeviceStore(filepath.Join(t.TempDir(), "devices"))
	if err != nil {
		t.Fatal(err)
	}

	// Bots: well-behaved ones (one with a directory store, one whose
	// renewals fail until its instance expires), one on the auth server,
	// and two whose tokens are signed wrong.
	var good []*bot
	for i := 0; i < 3; i++ {
		b := newBot(fmt.Sprintf("good-%d", i), client.WithListener(listener(false)))
		good = append(good, b)
	}
	dirBot := newBot("dir-0", client.WithListener(listener(false)), client.WithDeviceStore(dirStore))
	renewFail := newBot("renewfail-0", client.WithListener(listener(true)))
	httpBot := newBot("http-0", client.WithCredentialsProvider(record(httpProv)))
	wrongProv, _ := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: app.Key, Secret: wrong.Secret, Clock: s.Clock()})
	wrongBot := newBot("wrongkey-0", client.WithCredentialsProvider(record(wrongProv)))
	textBot := newBot("textkey-0", client.WithCredentialsProvider(credentials.ProviderFunc(func(ctx context.Context, req credentials.Request) (string, error) {
		tok := textKeyToken(app, req.UserID, s.Now())
		secrets.addJWT("text-key token", tok)
		return tok, nil
	})))
	all := append(append([]*bot{}, good...), dirBot, renewFail, httpBot, wrongBot, textBot)
	live := append(append([]*bot{}, good...), dirBot, renewFail, httpBot)

	for _, b := range all {
		if err := b.c.EnableManagedPush(); err != nil {
			t.Fatal(err)
		}
		tr.note("Start", b.c.Start())
		tr.note("RegisterPushToken", b.c.RegisterPushToken("push-"+b.user))
	}
	waitState(t, all, 30*time.Second, registration.StateStarted, registration.StateFailed)
	for _, b := range all {
		err := b.c.WaitStarted(ctxFor(t, 10*time.Second))
		tr.note("WaitStarted", err)
		wantFail := b == wrongBot || b == textBot
		if (err != nil) != wantFail {
			t.Fatalf("%s: WaitStarted = %v", b.user, err)
		}
	}
	collect()

	// Raw protocol: a bad proof, another device, a replayed token, bad
	// and good legacy signatures, malformed and foreign tokens.
	rc := dialRaw(t, s.URL())
	in := s.Instances()[0]
	for _, req := range []transport.Request{
		&transport.Authenticate{ID: "a1", ApplicationKey: app.Key, UserID: in.User, InstanceID: in.ID, DeviceID: in.Device, Proof: "AAAA"},
		&transport.Authenticate{ID: "a2", ApplicationKey: app.Key, UserID: in.User, InstanceID: in.ID, DeviceID: "other-device",
			Proof: mustProof(t, string(in.Secret), rc.welcome.Challenge, in.ID, "other-device")},
	} {
		tr.note("raw replies", replyText(rc.do(req)))
	}
	tok := mint(t, s, credentials.MintParams{UserID: "raw-0"})
	secrets.addJWT("token", tok)
	tr.note("raw replies", replyText(rc.create(app.Key, "raw-0", "d", tok)), replyText(rc.create(app.Key, "raw-0", "d", tok)))
	for _, bad := range []string{
		"x.y.z", tok + "x", textKeyToken(app, "raw-1", s.Now()), mintWith(t, wrong.Secret, app.Key, s, "raw-1"),
		`eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.`, mint(t, s, credentials.MintParams{UserID: "someone-else"}),
		mint(t, s, credentials.MintParams{UserID: "raw-1", Now: s.Now().Add(-time.Hour)}),
	} {
		secrets.addJWT("bad token", bad)
		tr.note("raw replies", replyText(rc.create(app.Key, "raw-1", "d", bad)))
		x := credentials.Explain(bad, credentials.ExplainOptions{ApplicationKey: app.Key, Secret: app.Secret, User: "raw-1", Now: s.Now()})
		tr.note("Explain", x.String(), x)
	}
	for i, seq := range []uint64{5, 5, 4} {
		sig := credentials.LegacySignature("legacy-0", app.Key, seq, app.Secret)
		secrets.add("legacy signature", sig)
		if i == 0 {
			tr.note("raw replies", replyText(rc.do(&transport.LegacyRegister{ID: rc.nextID(), ApplicationKey: app.Key, UserID: "legacy-0",
				DeviceID: "d", Capabilities: []string{}, SDKVersion: "t", Signature: sig[:len(sig)-2] + "AA", Sequence: seq})))
		}
		tr.note("raw replies", replyText(rc.do(&transport.LegacyRegister{ID: rc.nextID(), ApplicationKey: app.Key, UserID: "legacy-0",
			DeviceID: "d", Capabilities: []string{}, SDKVersion: "t", Signature: sig, Sequence: seq})))
	}
	collect()

	// Time: renewals after two days (one bot's fail until its instance
	// expires and it registers anew), then faults, a revocation and a
	// restart.
	stepTo(t, s, live, start.Add(3*day+time.Hour))
	collect()
	if err := s.DropNext(transport.TypeAuthenticate, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.FailNext(transport.TypeAuthenticate, 1, transport.CodeUnavailable); err != nil {
		t.Fatal(err)
	}
	s.CloseClientConnections()
	waitState(t, live, 30*time.Second, registration.StateReconnecting)
	settle(t, s, live, time.Second, 50)
	authDown.Lock()
	down = true
	authDown.Unlock()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	waitState(t, live, 30*time.Second, registration.StateReconnecting)
	settle(t, s, live, time.Second, 50)
	// The auth server is down when the HTTP bot's renewal comes.
	stepTo(t, s, live, s.Now().Add(3*day))
	collect()

	// The admin API, with and without the token.
	admin := func(method, path, body, token string) string {
		req, _ := http.NewRequest(method, strings.TrimSuffix(s.AdminURL(), "/admin/")+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	for _, r := range []struct{ method, path, body, token string }{
		{"GET", "/admin/health", "", adminToken},
		{"GET", "/admin/applications", "", ""},
		{"GET", "/admin/instances", "", adminToken},
		{"GET", "/admin/instances/" + good[0].record(t).InstanceID, "", adminToken},
		{"GET", "/admin/events", "", adminToken},
		{"POST", "/admin/faults", `{"kind":"createInstance","count":1,"code":"unavailable"}`, adminToken},
		{"GET", "/admin/faults", "", adminToken},
		{"DELETE", "/admin/faults", "", adminToken},
		{"POST", "/admin/clock", `{"advance":"1m"}`, adminToken},
		{"POST", "/admin/applications", `{"key":"bad","secret":"not base64!"}`, adminToken},
		{"POST", "/admin/applications", `{"key":"bad","secret":"` + app.Secret.Text() + `x"}`, adminToken},
		{"GET", "/admin/health", "", "wrong-" + adminToken},
		{"GET", "/admin/health", "", adminToken[:len(adminToken)-1]},
		{"DELETE", "/admin/instances/" + good[1].record(t).InstanceID, "", adminToken},
		{"GET", "/metrics", "", ""},
	} {
		tr.note("admin answers", admin(r.method, r.path, r.body, r.token))
	}
	// Adding an application answers with its secret once, on purpose; the
	// answer is not scanned, the secret is.
	added := admin("POST", "/admin/applications", `{"key":"app-3"}`, adminToken)
	var view struct{ Secret string }
	json.Unmarshal([]byte(added[strings.IndexByte(added, ' ')+1:]), &view)
	if sec, err := credentials.ParseSecret(view.Secret); err == nil {
		secrets.addApp("added application", sec, start, s.Now())
	} else {
		t.Fatalf("adding an application: %s", added)
	}
	if err := good[1].c.WaitState(ctxFor(t, 10*time.Second), registration.StateFailed); err != nil {
		t.Fatal(err)
	}
	collect()
	for _, b := range all {
		rec := b.record(t)
		secrets.add("instance secret (device store)", rec.InstanceSecret)
		tr.note("client state", b.c.Err(), b.c.Stats())
	}
	if rec, ok, _ := dirStore.Load(context.Background(), app.Key, dirBot.user); ok {
		secrets.add("instance secret (directory store)", rec.InstanceSecret)
	}
	tr.note("events", s.Events())
	tr.note("applications", fmt.Sprintf("%v %+v %#v", s.Applications(), s.Applications(), s.Application()))
	for _, b := range all {
		b.c.TerminateGracefully()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Files holding secrets are private to their owner.
	for _, dir := range []string{dataDir, dirStore.Dir()} {
		checkPrivate(t, dir)
	}

	// The scenario went where it was meant to.
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"renewals", good[0].c.Stats().Renewals > 0 && dirBot.c.Stats().Renewals > 0},
		{"an expiry after failed renewals", renewFail.c.Stats().Expiries > 0 && renewFail.c.Stats().RenewalFailures > 0 && renewFail.c.Stats().InstancesCreated >= 2},
		{"a renewal failing at the auth server", httpBot.c.Stats().RenewalFailures > 0},
		{"signature_invalid for a wrong key", client.CodeOf(wrongBot.c.Err()) == credentials.CodeSignatureInvalid},
		{"signature_invalid for a text-derived key", client.CodeOf(textBot.c.Err()) == credentials.CodeSignatureInvalid},
		{"a revocation", errors.Is(good[1].c.Err(), client.ErrInstanceRevoked)},
		{"reconnections", good[2].c.Stats().Authentications >= 2},
	} {
		if !c.ok {
			t.Errorf("the scenario had no %s", c.what)
		}
	}
	// The scan finds what it looks for.
	for _, planted := range []string{"x" + app.Secret.Text(), hex.EncodeToString(credentials.SigningKey(app.Secret, start)), good[0].record(t).InstanceSecret} {
		if len(secrets.leaks(planted)) == 0 {
			t.Fatal("the scan misses a planted secret")
		}
	}

	tr.note("backend log", srvLog.String())
	tr.note("client log", cliLog.String())
	total := 0
	for source, b := range tr.parts {
		total += b.Len()
		if found := secrets.leaks(b.String()); len(found) > 0 {
			t.Errorf("%s shows: %s", source, strings.Join(found, ", "))
		}
	}
	lines := strings.Count(srvLog.String(), "\n") + strings.Count(cliLog.String(), "\n")
	if lines < 100 || total < 20000 {
		t.Fatalf("the scenario logged too little to prove anything: %d log lines, %d bytes in all", lines, total)
	}
	t.Logf("%d secret values (in every encoding) absent from %d log lines and %d bytes of logs, errors, callbacks, admin answers and events",
		len(secrets.vals), lines, total)
}

func mustProof(t testing.TB, secret, challenge, inst, device string) string {
	t.Helper()
	p, err := transport.Proof(secret, challenge, inst, device)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mintWith(t testing.TB, sec credentials.Secret, appKey string, s *fakebackend.Server, user string) string {
	t.Helper()
	m, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: appKey, Secret: sec, Clock: s.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.Mint(user)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// replyText is what a refusal tells the client. (A success carries the
// new instance's secret to its owner on purpose; it is not scanned.)
func replyText(m transport.Message) string {
	e, ok := m.(*transport.ErrorMessage)
	if !ok {
		return fmt.Sprintf("%T", m)
	}
	b, err := transport.Encode(m)
	if err != nil {
		return err.Error()
	}
	return string(b) + "\n" + e.Error.Error()
}

// checkPrivate: the directory is 0700 and its files 0600.
func checkPrivate(t testing.TB, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
