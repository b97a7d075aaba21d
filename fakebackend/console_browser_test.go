package fakebackend

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/codes"
	"github.com/sinchsim/sinchsim/credentials"
)

// The console's browser tests drive the system's Chromium with chromedp.
// Without a browser they skip, unless CI is set: there they fail, since
// .ci/run installs one. PNG screenshots go to $SINCHSIM_ARTIFACTS (or a
// temporary directory); -update-console-png also writes docs/console.png.

var updateConsolePNG = flag.Bool("update-console-png", false, "write ../docs/console.png from the browser test")

const (
	chromiumPath = "/usr/bin/chromium"
	browserWait  = 20 * time.Second // the longest wait for one condition in the page
)

// startBrowser launches one headless Chromium for the whole test, with a
// fresh profile, and closes it when the test ends.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and there is no browser at %s; .ci/run installs Debian's chromium package", chromiumPath)
		}
		t.Skipf("no browser at %s (apt-get install chromium); the console's browser tests are skipped", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 760),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return browser
}

// tab opens url in a new tab of the browser. Any uncaught exception or
// error the page logs (but a refused network request, which the sign-in
// tests cause on purpose) fails the test.
func tab(t *testing.T, browser context.Context, url string) context.Context {
	t.Helper()
	ctx, cancelTab := chromedp.NewContext(browser)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	var (
		mu       sync.Mutex
		problems []string
		done     = make(chan struct{})
	)
	messages := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == "error" && m.Source != "network") {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("the page logged: %s", p)
		}
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
	return ctx
}

// waitFor waits until the JavaScript expression is true in the page (an
// expression that throws, on an element not there yet, counts as false).
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	cond := "(() => { try { return !!(" + expr + ") } catch (e) { return false } })()"
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(browserWait))); err != nil {
		t.Fatalf("waiting for %s: %v\n(%s)", what, err, expr)
	}
}

// js evaluates an expression in the page.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// shot saves a screenshot of the page as name.png among the artifacts.
func shot(t *testing.T, ctx context.Context, name string) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("SINCHSIM_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
	return png
}

// rows is the expression for the instance table's rows.
const rows = `document.querySelectorAll('#instances tbody tr')`

// barLeft is the expression for the fraction of life left on each bar.
const barLeft = `[...document.querySelectorAll('#instances tbody .bar')].map(b => Number(b.dataset.left))`

// startTTLClients starts one client per user with a limited instance TTL
// (tokens self-signed on the backend's clock) and waits until each is
// registered.
func startTTLClients(t *testing.T, s *Server, ttl time.Duration, users ...string) []*client.SinchClient {
	t.Helper()
	app := s.Application()
	provider, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, Clock: s.Clock(), InstanceTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	var out []*client.SinchClient
	for _, u := range users {
		c, err := client.New(app.Key, s.URL(), u, client.WithClock(s.Clock()), client.WithCredentialsProvider(provider), client.WithInstanceTTL(true))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.TerminateGracefully() })
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserWait)
	defer cancel()
	for _, c := range out {
		if err := c.WaitStarted(ctx); err != nil {
			t.Fatalf("%s: %v", c.UserID(), err)
		}
	}
	return out
}

// TestConsoleInBrowser runs the console in Chromium against RunT servers:
// one browser for every case, a new tab and server for each.
func TestConsoleInBrowser(t *testing.T) {
	browser := startBrowser(t)

	t.Run("instances live: register, advance the clock, renewals", func(t *testing.T) {
		s := RunT(t)
		page := tab(t, browser, s.ConsoleURL()+"#instances")
		waitFor(t, page, "the empty instance list", `document.getElementById('inst-page').textContent === 'No instances'`)
		js[bool](t, page, `window.notReloaded = true`)

		// Three clients register: three rows, without a reload.
		startTTLClients(t, s, 72*time.Hour, "alice", "bob", "carol")
		waitFor(t, page, "3 rows", rows+`.length === 3`)
		if !js[bool](t, page, `window.notReloaded === true`) {
			t.Fatal("the page reloaded")
		}
		users := js[[]string](t, page, `[...`+rows+`].map(r => r.dataset.user).sort()`)
		if strings.Join(users, ",") != "alice,bob,carol" {
			t.Fatalf("rows for %v", users)
		}
		start := js[[]float64](t, page, barLeft)

		// Three days, a day at a time, from the page's clock buttons.
		advance := func(day string) {
			t.Helper()
			do(t, page, "opening the clock", chromedp.Click(chromedp.ID("tab-clock")))
			do(t, page, "clicking +1 d", chromedp.Click(chromedp.CSS(`button[data-advance="24h"]`)))
			waitFor(t, page, "the clock at "+day, `document.getElementById('now').textContent.startsWith('`+day+`')`)
			do(t, page, "opening the instances", chromedp.Click(chromedp.ID("tab-instances")))
		}
		advance("2026-01-02")
		waitFor(t, page, "the bars to move", barLeft+`.every((l, i) => l < `+jsNums(start)+`[i])`)
		advance("2026-01-03") // the clients renew 24 h before expiry: now
		waitFor(t, page, "a renewal on every row", `[...`+rows+`].every(r => r.dataset.renewals === '1')`)
		renewed := js[[]float64](t, page, barLeft)
		advance("2026-01-04")
		waitFor(t, page, "the bars to move again", barLeft+`.every((l, i) => l < `+jsNums(renewed)+`[i])`)
		if n := js[int](t, page, `document.querySelectorAll('#instances tbody .bar .mark').length`); n != 3 {
			t.Errorf("%d renewal marks, want 3", n)
		}
		if n := js[int](t, page, rows+`.length`); n != 3 {
			t.Errorf("%d rows after three days, want 3", n)
		}
		shot(t, page, "console-instances")
		emulateDark(t, page)
		shot(t, page, "console-instances-dark")
	})

	t.Run("the README's picture: TTLs in every state", func(t *testing.T) {
		s := RunT(t)
		app := s.Application()
		const day = 24 * time.Hour
		register := func(user, device string, ttl time.Duration) *rawClient {
			t.Helper()
			c := dialRaw(t, s)
			instanceOf(t, c.create(app.Key, user, device, mint(t, s, credentials.MintParams{UserID: user, InstanceTTL: ttl})))
			return c
		}
		alice := register("alice", "phone-1", 30*day)
		register("bob", "phone-2", 10*day)
		carol := register("carol", "laptop-3", 0)
		dave := register("dave", "phone-4", 30*day)
		wantOK(t, dave.request(map[string]any{"type": "registerPushToken", "pushToken": "fcm-token-dave", "pushType": "fcm"}), "pushTokenRegistered")
		s.Advance(36 * time.Hour)
		register("frank", "phone-5", 3*day)
		s.Advance(day)
		register("erin", "tablet-6", 14*day)
		wantOK(t, alice.request(map[string]any{"type": "updateInstanceTtl", "jwt": mint(t, s, credentials.MintParams{UserID: "alice", InstanceTTL: 30 * day})}), "instanceTtlUpdated")
		jwt, _ := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: NewApplication().Secret, Clock: s.Clock()})
		bad, _ := jwt.Mint("mallory")
		wantCode(t, dialRaw(t, s).create(app.Key, "mallory", "phone-mallory", bad), credentials.CodeSignatureInvalid)
		s.Advance(43 * time.Hour)
		carol.ws.Close()
		page := tab(t, browser, s.ConsoleURL()+"#instances")
		waitFor(t, page, "the rows", rows+`.length === 6 && document.querySelector('tr[data-user="carol"]').cells[7].textContent === 'no'`)
		for _, state := range []string{"ok", "renew", "expiring"} {
			waitFor(t, page, "a bar in state "+state, `document.querySelector('#instances .bar.`+state+`')`)
		}
		do(t, page, "a picture's size", chromedp.EmulateViewport(1200, 560))
		png := shot(t, page, "console-readme")
		if *updateConsolePNG {
			if err := os.WriteFile("../docs/console.png", png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("revoke from the page: the client is told and the row goes", func(t *testing.T) {
		s := RunT(t)
		app := s.Application()
		c := dialRaw(t, s)
		id, _, _ := instanceOf(t, c.create(app.Key, "dave", "d1", mint(t, s, credentials.MintParams{UserID: "dave"})))
		page := tab(t, browser, s.ConsoleURL()+"#instances")
		row := `document.querySelector('tr[data-instance-id="` + id + `"]')`
		waitFor(t, page, "dave's row", row)
		waitFor(t, page, "dave connected", row+`.cells[7].textContent === 'yes'`)
		do(t, page, "clicking Revoke", chromedp.Click(chromedp.CSS(`button[data-revoke="`+id+`"]`)))
		waitFor(t, page, "the confirmation", `document.getElementById('confirm').open`)
		shot(t, page, "console-revoke-confirm")
		do(t, page, "confirming", chromedp.Click(chromedp.ID("confirm-ok")))
		m := c.recv()
		if m["type"] != "instanceRevoked" || m["instanceId"] != id {
			t.Fatalf("the client got %v, want instanceRevoked for %s", m, id)
		}
		waitFor(t, page, "the row to go", `!`+row)
		if _, ok := s.Instance(id); ok {
			t.Fatal("the instance is still there")
		}
	})

	t.Run("a refused token: its decision, its code's meaning and fix", func(t *testing.T) {
		s := RunT(t)
		app := s.Application()
		page := tab(t, browser, s.ConsoleURL()+"#decisions")
		waitFor(t, page, "the stream", `document.getElementById('live').textContent === 'live'`)
		wrong, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: app.Key, Secret: NewApplication().Secret, Clock: s.Clock()})
		if err != nil {
			t.Fatal(err)
		}
		jwt, _ := wrong.Mint("mallory")
		wantCode(t, dialRaw(t, s).create(app.Key, "mallory", "d1", jwt), credentials.CodeSignatureInvalid)
		row := `document.querySelector('#decisions tbody tr[data-code="signature_invalid"]')`
		waitFor(t, page, "the refusal's row", row)
		if user := js[string](t, page, row+`.cells[3].textContent`); user != "mallory" {
			t.Errorf("the row's user is %q", user)
		}
		do(t, page, "clicking the code", chromedp.Click(chromedp.CSS(`#decisions tbody tr[data-code="signature_invalid"] button[data-code]`)))
		waitFor(t, page, "the code's dialog", `document.getElementById('code').open`)
		want, _ := codes.Lookup(credentials.CodeSignatureInvalid)
		if got := js[string](t, page, `document.getElementById('code-fix').textContent`); got != plainMarkdown(want.Fix) {
			t.Errorf("fix shown: %q\nwant: %q", got, plainMarkdown(want.Fix))
		}
		if got := js[string](t, page, `document.getElementById('code-meaning').textContent`); got != plainMarkdown(want.Meaning) {
			t.Errorf("meaning shown: %q\nwant: %q", got, plainMarkdown(want.Meaning))
		}
		shot(t, page, "console-code")
		do(t, page, "pressing Escape", chromedp.KeyEvent(kb.Escape))
		waitFor(t, page, "the dialog to close", `!document.getElementById('code').open`)
	})

	t.Run("with an admin token: a sign-in and no data until it is given", func(t *testing.T) {
		const token = "console-admin-token-5d1e"
		s := RunT(t, Config{AdminToken: token})
		app := s.Application()
		c := dialRaw(t, s)
		id, _, _ := instanceOf(t, c.create(app.Key, "erin", "d1", mint(t, s, credentials.MintParams{UserID: "erin"})))
		page := tab(t, browser, s.ConsoleURL()+"#instances")
		waitFor(t, page, "the sign-in", `!document.getElementById('signin').hidden`)
		noData := func() {
			t.Helper()
			if !js[bool](t, page, `document.getElementById('app').hidden && `+rows+`.length === 0`) {
				t.Fatal("the page shows its views before the token is given")
			}
			if text := js[string](t, page, `document.documentElement.outerHTML`); strings.Contains(text, "erin") || strings.Contains(text, id) || strings.Contains(text, app.Key) {
				t.Fatal("the page holds backend data before the token is given")
			}
		}
		noData()
		shot(t, page, "console-signin")
		do(t, page, "a wrong token", chromedp.SendKeys(chromedp.ID("signin-token"), "not-the-token"), chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)))
		waitFor(t, page, "the refusal", `document.getElementById('signin-error').textContent === 'That is not the admin token.'`)
		noData()
		do(t, page, "the token", chromedp.SendKeys(chromedp.ID("signin-token"), token), chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)))
		waitFor(t, page, "erin's row", `document.querySelector('tr[data-user="erin"]')`)
		waitFor(t, page, "the stream", `document.getElementById('live').textContent === 'live'`)
		if js[bool](t, page, `location.href.includes('`+token+`') || document.documentElement.outerHTML.includes('`+token+`')`) {
			t.Fatal("the token is in the URL or the page")
		}
		if js[string](t, page, `sessionStorage.getItem('sinchsim.adminToken')`) != token {
			t.Fatal("the token is not kept in sessionStorage")
		}
		do(t, page, "signing out", chromedp.Click(chromedp.ID("sign-out")))
		waitFor(t, page, "the sign-in again", `!document.getElementById('signin').hidden`)
		noData()
	})

	t.Run("10,000 instances: the first page renders within 200 ms", func(t *testing.T) {
		s := RunT(t)
		app := s.Application()
		t0 := s.Now()
		const n = 10000
		for i := range n {
			created := t0.Add(-time.Duration(i) * time.Minute)
			inst := Instance{ID: fmt.Sprintf("inst-%05d", i), Application: app.Key, User: fmt.Sprintf("user-%05d", i), Device: "device-1",
				CreatedAt: created, ExpireAt: created.Add(30 * 24 * time.Hour), History: []TTLChange{{At: created, ExpireAt: created.Add(30 * 24 * time.Hour), Reason: "created"}}}
			if err := putInstance(s.store, inst); err != nil {
				t.Fatal(err)
			}
		}
		page := tab(t, browser, s.ConsoleURL()+"#instances")
		const render = `window.sinchsimConsole.renders.filter(r => r.total === %d).at(-1)`
		waitFor(t, page, "the first page", fmt.Sprintf(render, n))
		first := js[renderStat](t, page, fmt.Sprintf(render, n))
		t.Logf("first page: %d rows of %d, fetched in %.1f ms, rendered in %.1f ms", first.Rows, first.Total, first.FetchMs, first.RenderMs)
		if first.Rows != 50 || first.RenderMs > 200 {
			t.Fatalf("first page: %+v", first)
		}
		if got := js[string](t, page, `document.getElementById('inst-page').textContent`); got != "1–50 of 10,000" {
			t.Errorf("pager says %q", got)
		}
		shot(t, page, "console-10000")
		js[bool](t, page, `window.notReloaded = true`)
		do(t, page, "the next page", chromedp.Click(chromedp.ID("inst-next")))
		waitFor(t, page, "the second page", `document.getElementById('inst-page').textContent === '51–100 of 10,000'`)
		// One more registers: the count follows without a reload.
		c := dialRaw(t, s)
		instanceOf(t, c.create(app.Key, "frank", "d1", mint(t, s, credentials.MintParams{UserID: "frank"})))
		waitFor(t, page, "10,001 instances", `document.getElementById('inst-page').textContent === '51–100 of 10,001'`)
		last := js[renderStat](t, page, fmt.Sprintf(render, n+1))
		if last.RenderMs > 200 || !js[bool](t, page, `window.notReloaded === true`) {
			t.Fatalf("after an update: %+v", last)
		}
	})

	t.Run("a new backend process on the same address: the page carries on", func(t *testing.T) {
		first := RunT(t)
		app := first.Application()
		page := tab(t, browser, first.ConsoleURL()+"#decisions")
		for _, u := range []string{"ivan", "judy"} {
			instanceOf(t, dialRaw(t, first).create(app.Key, u, "d1", mint(t, first, credentials.MintParams{UserID: u})))
		}
		waitFor(t, page, "two decisions", `document.querySelectorAll('#decisions tbody tr').length === 2`)
		addr := first.Addr()
		first.Close()
		waitFor(t, page, "the page to notice", `document.getElementById('live').textContent === 'reconnecting'`)
		second := RunT(t, Config{Addr: addr, Applications: []Application{app}}) // its decisions count from 1 again
		instanceOf(t, dialRaw(t, second).create(app.Key, "kim", "d1", mint(t, second, credentials.MintParams{UserID: "kim"})))
		waitFor(t, page, "the new backend's decision", `document.querySelector('#decisions tbody tr')?.cells[3].textContent === 'kim'`)
		if n := js[int](t, page, `document.querySelectorAll('#decisions tbody tr').length`); n != 1 {
			t.Errorf("%d decisions shown, want only the new backend's", n)
		}
	})

	t.Run("on the real clock the clock controls are off, with the reason", func(t *testing.T) {
		s := RunT(t, Config{Clock: clock.New()})
		page := tab(t, browser, s.ConsoleURL()+"#clock")
		waitFor(t, page, "the clock", `document.getElementById('clock-kind').textContent === 'real clock'`)
		if !js[bool](t, page, `document.querySelector('[data-advance="1h"]').matches(':disabled') && document.getElementById('clock-to').matches(':disabled')`) {
			t.Fatal("the clock controls are enabled on a real clock")
		}
		if reason := js[string](t, page, `document.getElementById('clock-reason').textContent`); !strings.Contains(reason, "--clock mock") {
			t.Fatalf("reason: %q", reason)
		}
	})

	t.Run("faults and applications from the page", func(t *testing.T) {
		s := RunT(t)
		page := tab(t, browser, s.ConsoleURL()+"#faults")
		waitFor(t, page, "the request types", `document.querySelector('#fault-kind option[value="createInstance"]')`)
		do(t, page, "arming a fault",
			chromedp.SetValue(chromedp.ID("fault-kind"), "createInstance"),
			chromedp.Click(chromedp.CSS(`input[name=fault-effect][value=unavailable]`)),
			chromedp.Click(chromedp.CSS(`input[name=fault-mode][value=probability]`)),
			chromedp.SetValue(chromedp.ID("fault-prob"), "50"),
			chromedp.Click(chromedp.CSS(`#fault-form button[type=submit]`)))
		waitFor(t, page, "the armed fault", `document.querySelectorAll('#faults tbody tr').length === 1`)
		if f := s.Faults(); len(f) != 1 || f[0].Kind != "createInstance" || f[0].Probability != 0.5 || f[0].Code != "unavailable" || f[0].Count != 0 {
			t.Fatalf("faults: %+v", f)
		}
		do(t, page, "disarming", chromedp.Click(chromedp.ID("faults-clear")))
		waitFor(t, page, "no fault", `document.querySelectorAll('#faults tbody tr').length === 0`)
		if f := s.Faults(); len(f) != 0 {
			t.Fatalf("faults after disarming: %+v", f)
		}

		secret := s.Application().Secret.Text()
		do(t, page, "the applications", chromedp.Click(chromedp.ID("tab-applications")))
		waitFor(t, page, "the application list", `document.querySelectorAll('#apps li').length === 1`)
		do(t, page, "adding one", chromedp.SendKeys(chromedp.ID("app-key"), "second-app"), chromedp.Click(chromedp.CSS(`#app-form button[type=submit]`)))
		waitFor(t, page, "its secret, once", `!document.getElementById('app-secret').hidden`)
		added, ok := s.keys.Secret("second-app")
		if !ok || js[string](t, page, `document.getElementById('app-secret-value').textContent`) != added.Text() {
			t.Fatal("the new application's secret is not shown")
		}
		do(t, page, "hiding it", chromedp.Click(chromedp.ID("app-secret-hide")))
		waitFor(t, page, "the secret gone", `document.getElementById('app-secret').hidden`)
		if html := js[string](t, page, `document.documentElement.outerHTML`); strings.Contains(html, added.Text()) || strings.Contains(html, secret) {
			t.Fatal("the page still holds a secret")
		}

		// The token tool: what token explain says.
		jwt := mint(t, s, credentials.MintParams{UserID: "gina", TTL: time.Minute})
		do(t, page, "explaining a token", chromedp.SetValue(chromedp.ID("explain-token"), jwt), chromedp.Click(chromedp.CSS(`#explain-form button[type=submit]`)))
		waitFor(t, page, "the verdict", `document.querySelector('#explain-findings li[data-code="valid"]')`)
	})

	t.Run("keyboard, labels and contrast in both themes", func(t *testing.T) {
		s := RunT(t)
		app := s.Application()
		c := dialRaw(t, s)
		instanceOf(t, c.create(app.Key, "hana", "d1", mint(t, s, credentials.MintParams{UserID: "hana", InstanceTTL: 72 * time.Hour})))
		wantCode(t, c.create(app.Key, "hana", "d1", "x.y.z"), credentials.CodeTokenMalformed)
		page := tab(t, browser, s.ConsoleURL())
		waitFor(t, page, "the overview", `document.getElementById('st-instances').textContent === '1'`)

		// The tabs follow the arrow keys, Home and End.
		do(t, page, "focusing the tabs", chromedp.Focus(chromedp.ID("tab-overview")), chromedp.KeyEvent(kb.ArrowRight))
		waitFor(t, page, "the instances tab", `document.activeElement.id === 'tab-instances' && !document.getElementById('view-instances').hidden`)
		do(t, page, "End", chromedp.KeyEvent(kb.End))
		waitFor(t, page, "the last tab", `document.activeElement.id === 'tab-applications' && !document.getElementById('view-applications').hidden`)

		for _, scheme := range []string{"light", "dark"} {
			if _, err := chromedp.Call(page, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, page, scheme+" colours", `matchMedia('(prefers-color-scheme: `+scheme+`)').matches`)
			for _, view := range []string{"overview", "instances", "decisions", "clock", "faults", "applications"} {
				do(t, page, "opening "+view, chromedp.Click(chromedp.ID("tab-"+view)))
				waitFor(t, page, view, `!document.getElementById('view-`+view+`').hidden`)
				if view == "instances" {
					waitFor(t, page, "the row", rows+`.length === 1`)
				}
				if view == "decisions" {
					waitFor(t, page, "the rows", `document.querySelectorAll('#decisions tbody tr').length >= 2`)
				}
				for _, p := range js[[]string](t, page, auditJS) {
					t.Errorf("%s theme, %s: %s", scheme, view, p)
				}
				if view == "overview" || view == "decisions" {
					shot(t, page, "console-"+view+"-"+scheme)
				}
			}
			shot(t, page, "console-applications-"+scheme)
		}
	})
}

// renderStat is one measured render of the instance table.
type renderStat struct {
	Rows     int     `json:"rows"`
	Total    int     `json:"total"`
	FetchMs  float64 `json:"fetchMs"`
	RenderMs float64 `json:"renderMs"`
}

func emulateDark(t *testing.T, page context.Context) {
	t.Helper()
	if _, err := chromedp.Call(page, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, page, "dark colours", `matchMedia('(prefers-color-scheme: dark)').matches`)
}

// jsNums writes numbers as a JavaScript array.
func jsNums(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, ",") + "]"
}

var mdMarkup = regexp.MustCompile("`([^`]+)`|\\*\\*([^*]+)\\*\\*|\\[([^\\]]+)\\]\\([^)]*\\)")

// plainMarkdown is the text the page shows for a documentation text.
func plainMarkdown(s string) string { return mdMarkup.ReplaceAllString(s, "$1$2$3") }

// auditJS lists, for what the page shows, every control without a label
// and every text below WCAG AA contrast (4.5:1, 3:1 for large text).
// Disabled controls are exempt, as WCAG exempts them.
const auditJS = `(() => {
  const problems = [];
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  for (const c of document.querySelectorAll('input, select, textarea, button')) {
    if (!shown(c) || c.type === 'hidden') continue;
    const label = (c.labels ? [...c.labels].map(l => l.textContent).join(' ') : '') +
      (c.getAttribute('aria-label') || '') + (c.tagName === 'BUTTON' ? c.textContent : '');
    if (!label.trim()) problems.push('no label: ' + c.outerHTML.slice(0, 100));
  }
  const rgba = (s) => { const m = s.match(/[\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const over = (top, under) => { const a = top[3]; return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat(1); };
  const background = (e) => {
    const chain = [];
    for (let x = e; x; x = x.parentElement) chain.push(rgba(getComputedStyle(x).backgroundColor));
    let bg = [255, 255, 255, 1];
    if (matchMedia('(prefers-color-scheme: dark)').matches) bg = [0, 0, 0, 1];
    for (const c of chain.reverse()) if (c[3] > 0) bg = over(c, bg);
    return bg;
  };
  for (const e of document.querySelectorAll('body *')) {
    if (!shown(e) || e.closest('[hidden], :disabled, svg')) continue;
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const st = getComputedStyle(e);
    const fg = over(rgba(st.color), background(e));
    const bg = background(e);
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) problems.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': ' + e.tagName + ' "' + e.textContent.trim().slice(0, 40) + '"');
  }
  return problems;
})()`
