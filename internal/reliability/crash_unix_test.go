//go:build unix

package reliability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/internal/syncbuf"
)

// TestSIGKILLMidWrite kills a backend process with SIGKILL while it is
// writing registrations to its data directory, several times on the same
// directory, then opens the directory again with a torn journal line
// appended: it loads, and every change acknowledged to a client before a
// kill is there.
func TestSIGKILLMidWrite(t *testing.T) {
	rounds := size(5, 4, 2, 12)
	maxAcks := size(3000, 1500, 200, 8000) // compaction runs every 20,000 journal records
	seed := seedFor(t)
	rng := rand.New(rand.NewPCG(seed, 7))
	dir := t.TempDir()
	app := fakebackend.NewApplication()
	acked := map[string]string{} // instance id -> user
	ttls := map[string]int64{}   // instance id -> acknowledged expiry (Unix)
	for r := 0; r < rounds; r++ {
		killAfter := 1 + rng.IntN(maxAcks)
		var stderr syncbuf.Buffer
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashKeyEnv+"="+app.Key,
			crashSecretEnv+"="+app.Secret.Text(), crashPrefixEnv+"="+fmt.Sprintf("r%d", r))
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rd := bufio.NewReader(out)
		acks, killed, ready := 0, false, false
		for {
			line, err := rd.ReadString('\n')
			if err == io.EOF {
				break // a line without its newline was never complete
			}
			if err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(line)
			switch {
			case len(f) == 2 && f[0] == "READY":
				ready = true
			case len(f) == 3 && f[0] == "ACK":
				acked[f[1]] = f[2]
				acks++
			case len(f) == 3 && f[0] == "TTL":
				n, err := strconv.ParseInt(f[2], 10, 64)
				if err != nil {
					t.Fatalf("child printed %q", line)
				}
				ttls[f[1]] = n
			default:
				t.Fatalf("child printed %q", line)
			}
			if !killed && acks >= killAfter {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ready || !killed || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v (ready %v, killed %v)\n%s", r, err, ready, killed, stderr.String())
		}
		t.Logf("round %d: killed after %d acknowledged registrations (%d read in all)", r, killAfter, acks)
	}

	// A kill inside write(2) of a long record can leave half a line:
	// append one to the live journal (the one of state.json's generation).
	// A kill while compacting can leave the previous journal and a
	// temporary snapshot: plant both.
	state, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sf struct{ Generation uint64 }
	if err := json.Unmarshal(state, &sf); err != nil {
		t.Fatalf("state.json after the kills: %v", err)
	}
	live := fmt.Sprintf("journal-%d.jsonl", sf.Generation)
	jf, err := os.OpenFile(filepath.Join(dir, live), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jf.WriteString(`{"op":"instance","instance":{"id":"inst-torn","applicationKey":"` + app.Key); err != nil {
		t.Fatal(err)
	}
	jf.Close()
	for _, name := range []string{fmt.Sprintf("journal-%d.jsonl", sf.Generation-1), ".state-1234.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"op":"reset"}`+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	var logs syncbuf.Buffer
	s, err := fakebackend.NewUnstartedServer(fakebackend.Config{DataDir: dir, Logger: debugLogger(&logs)})
	if err != nil {
		t.Fatalf("the data directory does not load after SIGKILL: %v", err)
	}
	defer s.Close()
	if !strings.Contains(logs.String(), "torn") {
		t.Errorf("the torn line was not reported:\n%s", logs.String())
	}
	if _, ok := s.Instance("inst-torn"); ok {
		t.Error("the torn record was applied")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[1] != "state.json" || !strings.HasPrefix(names[0], "journal-") {
		t.Errorf("data directory after loading: %v, want one journal and state.json", names)
	}
	lost, shortened := 0, 0
	for id, user := range acked {
		in, ok := s.Instance(id)
		if !ok || in.User != user {
			lost++
			continue
		}
		if want, ok := ttls[id]; ok && in.ExpireAt.Unix() < want {
			shortened++
		}
	}
	if lost != 0 || shortened != 0 || len(acked) == 0 {
		t.Fatalf("%d of %d acknowledged instances lost, %d of %d acknowledged TTL extensions lost", lost, len(acked), shortened, len(ttls))
	}
	t.Logf("%d SIGKILLs mid-write: %d acknowledged instances and %d acknowledged TTL extensions all present, torn line skipped (%d instances on disk)",
		rounds, len(acked), len(ttls), len(s.Instances()))
}
