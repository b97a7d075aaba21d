package scale

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/rawclient"
)

// gate skips the test unless SINCHSIM_SCALE=1.
func gate(t *testing.T) {
	t.Helper()
	if os.Getenv("SINCHSIM_SCALE") != "1" {
		t.Skip("a scale test: set SINCHSIM_SCALE=1 to run it")
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds sinchsim once for the package's tests.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sinchsim-scale-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sinchsim")
		out, err := exec.Command("go", "build", "-buildvcs=false", "-o", binPath, "github.com/sinchsim/sinchsim/cmd/sinchsim").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building sinchsim: %v", buildErr)
	}
	return binPath
}

const appKey, appSecret = "scale-app", "ax8hTTQJF0OPXL32r1LHMA=="

var app = fakebackend.Application{Key: appKey, Secret: credentials.MustParseSecret(appSecret)}

// replica is one serve process.
type replica struct {
	name  string
	cmd   *exec.Cmd
	ws    string // WebSocket URL
	admin string // admin base URL, http://host:port/admin/
	done  chan struct{}
}

// startReplica starts sinchsim serve on the test's Redis.
func startReplica(t *testing.T, redisURL, prefix, name string, extra ...string) *replica {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--store", redisURL, "--store-prefix", prefix, "--replica", name,
		"--app", appKey + ":" + appSecret, "--log-level", "error"}, extra...)
	cmd := exec.Command(binary(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-r.done
		}
	})
	sc := bufio.NewScanner(stdout)
	ws := regexp.MustCompile(`websocket  (ws://\S+)`)
	adm := regexp.MustCompile(`admin      (http://\S+)`)
	for sc.Scan() {
		if m := ws.FindStringSubmatch(sc.Text()); m != nil {
			r.ws = m[1]
		}
		if m := adm.FindStringSubmatch(sc.Text()); m != nil {
			r.admin = m[1]
		}
		if strings.HasPrefix(sc.Text(), "Serving") {
			break
		}
	}
	if r.ws == "" || r.admin == "" {
		t.Fatalf("replica %s did not start", name)
	}
	go io.Copy(io.Discard, stdout)
	return r
}

// kill ends the replica with SIGKILL: no close frame, no cleanup.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done
}

func (r *replica) health(t *testing.T) map[string]any {
	t.Helper()
	return getJSON(t, r.admin+"health")
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return v
}

func adminDo(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

// dial connects to a replica's WebSocket URL.
func dial(t *testing.T, url string) *rawclient.Conn {
	t.Helper()
	return rawclient.Dial(t, url, appKey, 10*time.Second)
}
