package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal has cancelled ctx, restore the default
	// behaviour so that a second Ctrl-C kills at once.
	go func() { <-ctx.Done(); stop() }()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program minus the process: tests call it in-process with
// buffers for the streams.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(ctx, &env{name: "sinchsim", stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}, args)
}

// commands is the top-level command table, in the order of the help. Each
// command lives in its own file, cmd_<name>.go, which defines its command
// value; adding a command is that file plus one line here.
var commands = []command{
	tokenCommand,
	checkCommand,
	serveCommand,
	demoCommand,
	botsCommand,
	simulateCommand,
}

const rootAbout = `sinchsim emulates the user registration of the Sinch RTC client SDK and
checks registration tokens (JWTs) the way the Sinch backend does.

Exit status: 0 success; 1 the answer is "no" (an invalid token, a failed
check, a bot that did not start); 2 usage error, or (check) the auth server
could not be reached; 130 interrupted.`

func runEnv(ctx context.Context, e *env, args []string) (code int) {
	defer func() {
		// A bug must not print a Go stack (it could show flag values).
		if r := recover(); r != nil {
			e.errorf("internal error: %v (please report this)", r)
			code = exitFail
		}
	}()
	return dispatch(ctx, e, rootAbout, commands, args)
}
