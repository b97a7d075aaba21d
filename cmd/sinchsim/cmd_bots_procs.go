package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sinchsim/sinchsim/internal/fleet"
)

// runWorkers runs the fleet as f.procs worker processes (this program's
// bots command again, each with its share of -n and its own --first-user)
// and merges their --json results. args are bots' own arguments: a
// worker gets them followed by its settings, which take precedence (for
// the flag package the last value of a flag wins).
func (f *botsFlags) runWorkers(ctx context.Context, e *env, args []string, target, where string) int {
	exe, err := os.Executable()
	if err != nil {
		e.errorf("finding this program to start the worker processes: %v", err)
		return exitFail
	}
	urls := strings.Join(append([]string{target}, f.hosts...), ",")
	environ := os.Environ()
	if f.authURL == "" && !f.secret.IsZero() {
		// The secret goes by the environment: a command line is public.
		environ = append(environ, envAppSecret+"="+f.secret.Text())
	}
	results := make([]fleet.Result, f.procs)
	errs := make([]error, f.procs)
	var wg sync.WaitGroup
	stderr := &lockedWriter{w: e.stderr} // the workers write to it at once
	first := f.firstUser
	for k := range f.procs {
		n := f.n / f.procs
		if k < f.n%f.procs {
			n++
		}
		wargs := append([]string{"bots"}, args...)
		wargs = append(wargs, "--procs", "1", "-n", strconv.Itoa(n), "--first-user", strconv.Itoa(first),
			"--json", "--url", urls, "--app-key", f.appKey)
		first += n
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[k], errs[k] = runWorker(ctx, stderr, exe, wargs, environ)
		}()
	}
	wg.Wait()
	var ok []fleet.Result
	for k, err := range errs {
		if err != nil {
			e.errorf("worker %d of %d: %v", k+1, f.procs, err)
			continue
		}
		ok = append(ok, results[k])
	}
	if len(ok) < f.procs {
		return exitFail
	}
	res, err := fleet.Merge(ok...)
	if err != nil {
		e.errorf("merging the workers' results: %v", err)
		return exitFail
	}
	return report(e, f.asJSON, fmt.Sprintf("%s (%d worker processes)", where, f.procs), res, ctx.Err())
}

// runWorker runs one worker and decodes its result. Its stderr goes to
// the command's; an interrupt is passed on, so that it prints its result.
func runWorker(ctx context.Context, stderr io.Writer, exe string, args, env []string) (fleet.Result, error) {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	runErr := cmd.Run()
	var res fleet.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		if runErr != nil {
			return res, runErr
		}
		return res, fmt.Errorf("its output is not a result: %v", err)
	}
	var ee *exec.ExitError
	if runErr != nil && !errors.As(runErr, &ee) {
		return res, runErr
	}
	return res, nil
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

const botsMergeAbout = `Merges the --json results of fleets that ran at the same time against one
backend (on several machines, or in several processes) and prints the
summary of the whole, or with --json its JSON. Counts add up; the latency
percentiles are exact, taken from the merged histograms; the rate is every
start over the longest registration phase. "-" reads a result from the
standard input.

Exit status: 0 when every client of every run started and none failed or
lost its instance while online, 1 otherwise, 2 usage.`

// runBotsMerge is "sinchsim bots merge FILE...".
func runBotsMerge(e *env, args []string) int {
	fs := e.newFlags("[flags] RESULT.json...", botsMergeAbout)
	asJSON := fs.Bool("json", false, "print exactly one JSON object with the merged summary")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return fs.usageError("give the --json results to merge")
	}
	var results []fleet.Result
	for _, name := range fs.Args() {
		r, err := readResult(e, name)
		if err != nil {
			e.errorf("%v", err)
			return exitFail
		}
		results = append(results, r)
	}
	res, err := fleet.Merge(results...)
	if err != nil {
		e.errorf("%v", err)
		return exitFail
	}
	return report(e, *asJSON, fmt.Sprintf("%d merged runs", len(results)), res, nil)
}

// readResult reads one bots --json result from a file, or "-" (stdin).
func readResult(e *env, name string) (fleet.Result, error) {
	var r io.Reader
	if name == "-" {
		r = e.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fleet.Result{}, err
		}
		defer f.Close()
		r = f
	}
	var res fleet.Result
	if err := json.NewDecoder(io.LimitReader(r, 256<<20)).Decode(&res); err != nil {
		return fleet.Result{}, fmt.Errorf("%s is not a bots --json result: %v", name, err)
	}
	return res, nil
}
