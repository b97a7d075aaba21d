package fleet

import (
	"context"
	"testing"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
)

// benchConcurrency is bots' default --concurrency.
const benchConcurrency = 32

// BenchmarkBots registers b.N bots, benchConcurrency at a time, against an
// in-process backend on loopback (self-signed 48 h tokens), each
// terminated once started: one op is one registration, as `sinchsim bots`
// counts it. Compare with BenchmarkBotsFloor; benchratios prints the ratio.
func BenchmarkBots(b *testing.B) {
	srv, err := fakebackend.NewServer(fakebackend.Config{Applications: []fakebackend.Application{fakebackend.NewApplication()},
		Policy: fakebackend.Policy{RateLimit: -1}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	app := srv.Application()
	p, err := credentials.NewSelfSignedProvider(credentials.MinterConfig{ApplicationKey: app.Key, Secret: app.Secret, InstanceTTL: credentials.MinInstanceTTL})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := Run(context.Background(), Config{URL: srv.URL(), ApplicationKey: app.Key, Provider: p, N: b.N,
		Concurrency: benchConcurrency, UserPrefix: "bench-", InstanceTTL: true})
	b.StopTimer()
	if err != nil || res.Started != b.N {
		b.Fatalf("%d of %d bots started: %v", res.Started, b.N, err)
	}
	b.ReportMetric(res.RegistrationsPerSecond, "registrations/s")
}

// BenchmarkBotsFloor is BenchmarkBots' floor: b.N bare gorilla/websocket
// connections to an echo server, benchConcurrency at a time, each sending
// one message of a registration's size and closing (RunFloor).
func BenchmarkBotsFloor(b *testing.B) {
	f, err := RunFloor(context.Background(), b.N, benchConcurrency)
	if err != nil || f.Connections != b.N {
		b.Fatalf("%d of %d connections: %v", f.Connections, b.N, err)
	}
	b.ReportMetric(f.PerSecond, "connections/s")
}

func TestRunFloor(t *testing.T) {
	f, err := RunFloor(context.Background(), 50, 8)
	if err != nil || f.Connections != 50 || f.PerSecond <= 0 {
		t.Fatalf("RunFloor = %+v, %v", f, err)
	}
	if _, err := RunFloor(context.Background(), 0, 8); err == nil {
		t.Fatal("a floor of no connection ran")
	}
}
