package redisstore_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/sinchsim/sinchsim/credentials"
	"github.com/sinchsim/sinchsim/fakebackend"
	"github.com/sinchsim/sinchsim/fakebackend/redisstore/redistest"
	"github.com/sinchsim/sinchsim/transport"
)

// BenchmarkReplicaThroughput measures one backend replica's registration
// throughput on each store, in one run: 64 connections at a time each
// create an instance with a fresh token and close. The ns/op of each sub-
// benchmark is the time per registration of the whole replica; their
// ratio is what Redis costs. With SINCHSIM_REDIS_URL unset, "redis" runs
// on miniredis, which says nothing about Redis: set it for the figure.
func BenchmarkReplicaThroughput(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) fakebackend.Store
	}{
		{"file", func(b *testing.B) fakebackend.Store {
			st, err := fakebackend.OpenFileStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
		{"redis", func(b *testing.B) fakebackend.Store { return redistest.New(b).Open(b, "bench") }},
	}
	for _, sc := range stores {
		b.Run(sc.name, func(b *testing.B) {
			srv, err := fakebackend.NewServer(fakebackend.Config{Store: sc.open(b), Applications: []fakebackend.Application{testApp},
				Policy: fakebackend.Policy{RateLimit: -1, MaxConnections: 1 << 20}})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			m, err := credentials.NewMinter(credentials.MinterConfig{ApplicationKey: testApp.Key, Secret: testApp.Secret})
			if err != nil {
				b.Fatal(err)
			}
			var seq atomic.Int64
			b.SetParallelism(32) // 64 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					register(b, srv, m, "u"+strconv.FormatInt(seq.Add(1), 10))
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
		})
	}
}

func register(b *testing.B, srv *fakebackend.Server, m *credentials.Minter, user string) {
	conn, _, err := transport.Dial(context.Background(), srv.URL(), transport.DialConfig{})
	if err != nil {
		b.Error(err)
		return
	}
	defer func() {
		conn.Close(transport.CloseNormal, "")
		for {
			if _, err := conn.Read(); err != nil {
				break
			}
		}
		<-conn.Done()
	}()
	jwt, err := m.Mint(user)
	if err != nil {
		b.Error(err)
		return
	}
	if err := conn.Send(&transport.CreateInstance{ID: "1", ApplicationKey: testApp.Key, UserID: user, DeviceID: "d", SDKVersion: "bench", JWT: jwt}); err != nil {
		b.Error(err)
		return
	}
	r, err := conn.Read()
	if err != nil {
		b.Error(err)
		return
	}
	if _, ok := r.(*transport.InstanceCreated); !ok {
		b.Errorf("reply %#v", r)
	}
}
