package main

import (
	"strings"
	"testing"
)

const credentialsOut = `goos: linux
goarch: amd64
pkg: github.com/sinchsim/sinchsim/credentials
cpu: AMD EPYC
BenchmarkMint-2             	  200000	       700.0 ns/op	     448 B/op	       1 allocs/op
BenchmarkMint-2             	  200000	       720.0 ns/op	     448 B/op	       1 allocs/op
BenchmarkMint-2             	  200000	       900.0 ns/op	     448 B/op	       1 allocs/op
BenchmarkVerify-2           	  200000	      1800 ns/op
BenchmarkHMACFloor-2        	  200000	       340.0 ns/op
BenchmarkGolangJWTNaive-2   	  200000	      7900 ns/op
PASS
ok  	github.com/sinchsim/sinchsim/credentials	3.1s
`

const fakebackendOut = `pkg: github.com/sinchsim/sinchsim/fakebackend
BenchmarkRegister-2             	    2000	    283000 ns/op
BenchmarkWebSocketEchoFloor-2   	    2000	    234000 ns/op
`

// transportOut has a WebSocketEchoFloor of its own: it must not be taken
// for fakebackend's.
const transportOut = `pkg: github.com/sinchsim/sinchsim/transport
BenchmarkDecode-2                    	 1000000	      1200 ns/op
BenchmarkDecodeEncodingJSONFloor-2   	  200000	      6000 ns/op
BenchmarkWebSocketEchoFloor-2        	    2000	      1000 ns/op
`

func TestRun(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		status int
		want   []string // lines, in order
	}{
		{"credentials only", credentialsOut, 0, []string{
			"Mint / HMACFloor = 2.12 (720 / 340 ns/op); target <= 3: ok",
			"GolangJWTNaive / Verify = 4.39 (7900 / 1800 ns/op); target >= 2: ok",
		}},
		{"three packages", credentialsOut + transportOut + fakebackendOut, 0, []string{
			"Mint / HMACFloor = 2.12",
			"GolangJWTNaive / Verify = 4.39",
			"Register / WebSocketEchoFloor = 1.21 (283000 / 234000 ns/op); target <= 2: ok",
			"DecodeEncodingJSONFloor / Decode = 5.00 (6000 / 1200 ns/op); no target",
		}},
		{"a missed target", strings.Replace(fakebackendOut, "283000", "600000", 1), 1, []string{
			"Register / WebSocketEchoFloor = 2.56 (600000 / 234000 ns/op); target <= 2: MISSED",
		}},
		{"half a pair", "pkg: x/fakebackend\nBenchmarkRegister-2 10 5 ns/op\n", 1, []string{
			"Register / WebSocketEchoFloor: no BenchmarkWebSocketEchoFloor in the input",
		}},
		{"no package lines", "BenchmarkMint 10 600 ns/op\nBenchmarkHMACFloor 10 300 ns/op\n", 0, []string{
			"Mint / HMACFloor = 2.00 (600 / 300 ns/op); target <= 3: ok",
		}},
		{"nothing to compare", "PASS\nok  \tx\t0.1s\n", 2, []string{
			"benchratios: the input holds none of the benchmarks",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			status := run(strings.NewReader(tc.in), &out)
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if status != tc.status || len(lines) != len(tc.want) {
				t.Fatalf("status %d, output:\n%s\nwant status %d and %d lines", status, out.String(), tc.status, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], w)
				}
			}
		})
	}
}
