// Command benchratios reads `go test -bench` output on stdin and prints the
// ratio of each benchmark the README's performance table names to its
// floor, beside the target where the project sets one:
//
//	{ go test -run '^$' -bench 'Mint$|Verify$|HMACFloor|GolangJWTNaive' -count 3 ./credentials/
//	  go test -run '^$' -bench 'Register$|Authenticate$|WebSocketEchoFloor' -count 3 ./fakebackend/
//	  go test -run '^$' -bench 'Decode$|DecodeEncodingJSONFloor' -count 3 ./transport/
//	  go test -run '^$' -bench 'Bots' -benchtime 3000x -count 3 ./internal/fleet/
//	} | go run ./internal/tools/benchratios
//
// With -count above 1 each benchmark's median ns/op is used. A ratio whose
// benchmark is absent from the input is skipped, so one package's output is
// enough for its own ratios.
//
// Exit status: 0 when every ratio with a target meets it; 1 when one misses
// it, or a benchmark was measured without its floor; 2 when the input holds
// none of the benchmarks.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ratio is one line of the report: a benchmark against its floor. The
// ratio is bench / floor, or floor / bench when faster is set (how many
// times faster than the floor); it must stay at most target, or at least
// target when faster is set.
type ratio struct {
	name         string
	bench, floor string // "package.Name", Name without the Benchmark prefix
	faster       bool
	target       float64 // 0: none, the ratio is printed for information
}

// ratios are the figures of the README's performance table.
var ratios = []ratio{
	{"Mint / HMACFloor", "credentials.Mint", "credentials.HMACFloor", false, 3},
	{"GolangJWTNaive / Verify", "credentials.Verify", "credentials.GolangJWTNaive", true, 2},
	{"Register / WebSocketEchoFloor", "fakebackend.Register", "fakebackend.WebSocketEchoFloor", false, 2},
	{"Authenticate / WebSocketEchoFloor", "fakebackend.Authenticate", "fakebackend.WebSocketEchoFloor", false, 0},
	{"DecodeEncodingJSONFloor / Decode", "transport.Decode", "transport.DecodeEncodingJSONFloor", true, 0},
	{"BotsFloor / Bots", "fleet.Bots", "fleet.BotsFloor", true, 0.7},
}

var (
	pkgRE   = regexp.MustCompile(`^pkg: (\S+)`)
	benchRE = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op`)
)

func main() { os.Exit(run(os.Stdin, os.Stdout)) }

// run reads benchmark output from in, writes the report to out and returns
// the exit status.
func run(in io.Reader, out io.Writer) int {
	samples, err := parse(in)
	if err != nil {
		fmt.Fprintf(out, "benchratios: reading the input: %v\n", err)
		return 2
	}
	status, shown := 0, 0
	for _, r := range ratios {
		bench, ok := lookup(samples, r.bench)
		if !ok {
			continue // not measured in this input
		}
		shown++
		floor, ok := lookup(samples, r.floor)
		if !ok {
			fmt.Fprintf(out, "%s: no Benchmark%s in the input\n", r.name, r.floor[strings.IndexByte(r.floor, '.')+1:])
			status = 1
			continue
		}
		num, den := bench, floor
		if r.faster {
			num, den = floor, bench
		}
		v := num / den
		line := fmt.Sprintf("%s = %.2f (%s / %s ns/op)", r.name, v, fmtNs(num), fmtNs(den))
		op := map[bool]string{true: ">=", false: "<="}[r.faster]
		switch {
		case r.target == 0:
			line += "; no target"
		case r.faster && v >= r.target, !r.faster && v <= r.target:
			line += fmt.Sprintf("; target %s %g: ok", op, r.target)
		default:
			line += fmt.Sprintf("; target %s %g: MISSED", op, r.target)
			status = 1
		}
		fmt.Fprintln(out, line)
	}
	if shown == 0 {
		fmt.Fprintln(out, "benchratios: the input holds none of the benchmarks of the README's ratios; pipe `go test -bench` output in")
		return 2
	}
	return status
}

// parse collects the ns/op samples of every benchmark, keyed by the last
// element of its package path and its name: "credentials.Mint".
func parse(in io.Reader) (map[string][]float64, error) {
	samples := map[string][]float64{}
	pkg := ""
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if m := pkgRE.FindStringSubmatch(line); m != nil {
			pkg = m[1][strings.LastIndexByte(m[1], '/')+1:]
			continue
		}
		if m := benchRE.FindStringSubmatch(line); m != nil {
			ns, err := strconv.ParseFloat(m[2], 64)
			if err != nil || ns <= 0 {
				continue
			}
			samples[pkg+"."+m[1]] = append(samples[pkg+"."+m[1]], ns)
		}
	}
	return samples, sc.Err()
}

// lookup returns the median of key's samples. Output without "pkg:" lines
// is matched by name alone.
func lookup(samples map[string][]float64, key string) (float64, bool) {
	xs, ok := samples[key]
	if !ok {
		xs, ok = samples[key[strings.IndexByte(key, '.'):]]
	}
	if !ok || len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func fmtNs(ns float64) string { return strconv.FormatFloat(ns, 'f', 0, 64) }
