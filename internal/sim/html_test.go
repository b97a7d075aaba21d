package sim

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a Chromium to run headless. Without one the
// test is skipped, unless CI is set: there it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found (apt-get install chromium); CI needs it for the timeline test")
	}
	t.Skip("chromium not found: install it (apt-get install chromium) to open the timeline page in a browser")
	return ""
}

// dumpDOM opens file in headless Chromium and returns the DOM it built.
func dumpDOM(t *testing.T, browser, file string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--dump-dom", "file://"+file)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, errOut.String())
	}
	return out.String()
}

// The timeline page of the 36 h outage, opened in a browser: one lane per
// client, the expiries marked in the lanes of the expected users at the
// expected times, the outage shaded, the three series drawn, and nothing
// that needs a script or the network.
func TestHTMLInBrowser(t *testing.T) {
	browser := chromium(t)
	res := run(t, Config{Bots: 12, Period: 20 * day, InstanceTTL: 72 * time.Hour, Stagger: 48 * time.Hour,
		Outages: []Window{{240 * time.Hour, 36 * time.Hour}}, Seed: 3})
	file := filepath.Join(t.TempDir(), "timeline.html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, res); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dom := dumpDOM(t, browser, file)

	lanes := regexp.MustCompile(`<g class="lane" data-user="([^"]+)">`).FindAllStringSubmatch(dom, -1)
	var users []string
	for _, m := range lanes {
		users = append(users, m[1])
	}
	want := expectedExpiries(12, 48*time.Hour, 72*time.Hour, 240*time.Hour, 36*time.Hour, 20*day)
	if len(users) != 12 || users[0] != "sim-0" || users[11] != "sim-11" {
		t.Fatalf("lanes %v, want sim-0 … sim-11", users)
	}
	// Each lane's expiry marks, by user.
	marks := map[string][]string{}
	laneRE := regexp.MustCompile(`(?s)<g class="lane" data-user="([^"]+)">(.*?)</g>`)
	markRE := regexp.MustCompile(`<path class="expiry" data-at="([^"]+)"`)
	for _, m := range laneRE.FindAllStringSubmatch(dom, -1) {
		for _, at := range markRE.FindAllStringSubmatch(m[2], -1) {
			marks[m[1]] = append(marks[m[1]], at[1])
		}
	}
	wantMarks := map[string][]string{}
	for _, e := range want {
		wantMarks[e.user] = append(wantMarks[e.user], stamp(res.Start.Add(e.at)))
	}
	if len(marks) != len(wantMarks) {
		t.Fatalf("expiry marks %v, want %v", marks, wantMarks)
	}
	for u, w := range wantMarks {
		if !slices.Equal(marks[u], w) {
			t.Fatalf("expiry marks of %s: %v, want %v", u, marks[u], w)
		}
	}
	for _, s := range []string{`class="outage auth" data-window="240h0m0s/36h0m0s"`, `class="series registered"`,
		`class="series renewing"`, `class="series unregistered"`, `class="renewal"`, `class="failed-cycle"`} {
		if !strings.Contains(dom, s) {
			t.Errorf("the page has no %s", s)
		}
	}
	if n := strings.Count(dom, `<path class="expiry" data-count=`); n == 0 {
		t.Error("the timeline marks no expiry")
	}
	if strings.Contains(dom, "<script") || regexp.MustCompile(`(src|href)="https?:`).MatchString(dom) {
		t.Error("the page has a script or fetches something")
	}
}
