package fleet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// The memory benchmark may need the backend in a second process: 10,000
// connections need 20,000 sockets in one process, and some machines cap
// a process at 20,000 open files. The test binary then re-runs itself as
// the backend (SINCHSIM_MEMORY_SERVER=1).
func TestMain(m *testing.M) {
	if os.Getenv("SINCHSIM_MEMORY_SERVER") == "1" {
		serveForMemory()
		return
	}
	os.Exit(m.Run())
}

const memKey, memSecret = "memory-app", "ax8hTTQJF0OPXL32r1LHMA=="

func memApp() fakebackend.Application {
	return fakebackend.Application{Key: memKey, Secret: credentials.MustParseSecret(memSecret)}
}

func memPolicy() fakebackend.Policy {
	return fakebackend.Policy{MaxConnections: 1 << 20, RateLimit: -1}
}

func serveForMemory() {
	srv, err := fakebackend.NewServer(fakebackend.Config{Applications: []fakebackend.Application{memApp()}, Policy: memPolicy()})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(srv.URL())
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	srv.Close()
}

// inUse is heap plus goroutine stacks in use, after a GC.
func inUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// scrapeInUse reads the same figure from a backend's /metrics (after the
// backend's own periodic GC; it forces none).
func scrapeInUse(metricsURL string) (uint64, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"go_memstats_heap_inuse_bytes ", "go_memstats_stack_inuse_bytes "} {
			if strings.HasPrefix(line, name) {
				v, err := strconv.ParseFloat(strings.TrimPrefix(line, name), 64)
				if err != nil {
					return 0, err
				}
				total += v
			}
		}
	}
	return uint64(total), sc.Err()
}

// BenchmarkConnectedBotMemory connects SINCHSIM_BOTS clients (default
// 10,000), keeps them all registered and connected, and reports the memory
// (heap + stacks in use) per connected bot: client side, server side and
// both. Run it with -benchtime 1x.
func BenchmarkConnectedBotMemory(b *testing.B) {
	n := 10000
	if v := os.Getenv("SINCHSIM_BOTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	separate := uint64(2*n+512) > lim.Cur

	var url string
	var serverBefore uint64
	var metricsURL string
	if separate {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SINCHSIM_MEMORY_SERVER=1")
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ws://") {
			b.Fatalf("backend process: %q %v", line, err)
		}
		url = strings.TrimSpace(line)
		metricsURL = "http://" + strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws/v1") + "/metrics"
		time.Sleep(200 * time.Millisecond) // let the child settle before the baseline
		if serverBefore, err = scrapeInUse(metricsURL); err != nil {
			b.Fatal(err)
		}
	} else {
		srv, err := fakebackend.NewServer(fakebackend.Config{Applications: []fakebackend.Application{memApp()}, Policy: memPolicy()})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		url = srv.URL()
	}
	provider, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: memKey, Secret: credentials.MustParseSecret(memSecret)})
	if err != nil {
		b.Fatal(err)
	}
	clients := make([]*client.SinchClient, n)
	before := inUse()
	b.ResetTimer()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed int
	sem := make(chan struct{}, 64)
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := client.New(memKey, url, "mem-"+strconv.Itoa(i), client.WithCredentialsProvider(provider))
			if err == nil {
				err = c.Start()
			}
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err = c.WaitStarted(ctx)
				cancel()
			}
			if err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	b.StopTimer()
	if failed > 0 {
		b.Fatalf("%d of %d clients failed to start", failed, n)
	}
	after := inUse()
	clientPer := float64(after-before) / float64(n)
	serverPer := 0.0
	if separate {
		time.Sleep(time.Second)
		serverAfter, err := scrapeInUse(metricsURL)
		if err != nil {
			b.Fatal(err)
		}
		serverPer = float64(serverAfter-serverBefore) / float64(n)
		b.ReportMetric(clientPer, "B/bot-client")
		b.ReportMetric(serverPer, "B/bot-server")
	}
	b.ReportMetric(clientPer+serverPer, "B/bot")
	b.ReportMetric(float64(runtime.NumGoroutine())/float64(n), "goroutines/bot")
	b.Logf("%d bots connected; backend in a separate process: %v; %.0f B/bot (client %.0f, server %.0f)", n, separate, clientPer+serverPer, clientPer, serverPer)
	par := make(chan struct{}, 64)
	for _, c := range clients {
		par <- struct{}{}
		wg.Add(1)
		go func() { defer wg.Done(); c.TerminateGracefully(); <-par }()
	}
	wg.Wait()
}
