package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
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
could not be reached; 130 interrupted.

Every command that takes --app-secret reads the environment variable
SINCHSIM_APP_SECRET when the flag is absent, which keeps the secret out of
ps; the flag wins. "sinchsim --version" prints the version.`

func runEnv(ctx context.Context, e *env, args []string) (code int) {
	defer func() {
		// A bug must not print a Go stack (it could show flag values).
		if r := recover(); r != nil {
			e.errorf("internal error: %v (please report this)", r)
			code = exitFail
		}
	}()
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		fmt.Fprintln(e.stdout, versionLine())
		return exitOK
	}
	return dispatch(ctx, e, rootAbout, commands, args)
}

// versionLine is what --version prints: the module version from the build
// information ("(devel)" when built in a clone, v1.2.3 after go install
// ...@v1.2.3), the VCS revision when the build recorded one, and the Go
// version.
func versionLine() string {
	version, rev := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && modified {
			rev += "-dirty"
		}
	}
	line := "sinchsim " + version
	if rev != "" {
		line += " (revision " + rev + ")"
	}
	return line + " " + runtime.Version()
}
