package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/internal/excerpt"
)

// Exit statuses shared by every command.
const (
	exitOK          = 0   // success
	exitFail        = 1   // the command ran and the answer is "no" (invalid token, failed check)
	exitUsage       = 2   // bad flags or arguments; nothing was done
	exitInterrupted = 130 // SIGINT/SIGTERM arrived before the command finished
)

// env is a command's view of the process: its full name for messages
// ("sinchsim token mint"), its streams, its clock and its environment
// variables. Commands never touch os.Stdin/os.Stdout/time.Now/os.Getenv
// directly, so that tests run them in-process.
type env struct {
	name   string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
	getenv func(string) string // nil: os.Getenv
}

// lookupEnv returns the environment variable key.
func (e *env) lookupEnv(key string) string {
	if e.getenv == nil {
		return os.Getenv(key)
	}
	return e.getenv(key)
}

// usageHint is the line under a usage error: where the full usage is.
func (e *env) usageHint() {
	fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", e.name)
}

// errorf prints "name: message" on stderr.
func (e *env) errorf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "%s: %s\n", e.name, fmt.Sprintf(format, args...))
}

// A command is one entry of a command table: the top-level table in main.go,
// or the subcommands of a group such as "token". run gets the arguments
// after the command's name and returns the exit status; e.name already
// holds the command's full name.
type command struct {
	name    string
	summary string // one line, lower case, no period: shown in the parent's help
	run     func(ctx context.Context, e *env, args []string) int
}

// group returns a run func for a command that only dispatches to
// subcommands ("sinchsim token mint"). about is the paragraph its help
// shows above the list.
func group(about string, subs []command) func(context.Context, *env, []string) int {
	return func(ctx context.Context, e *env, args []string) int {
		return dispatch(ctx, e, about, subs, args)
	}
}

// dispatch runs the command named by args[0] from cmds. With no arguments it
// prints the list of commands on stderr (exit 2); with -h, --help or help it
// prints it on stdout (exit 0); "help X Y" is "X Y --help". An unknown
// command or flag is a usage error: one line and a pointer to --help.
func dispatch(ctx context.Context, e *env, about string, cmds []command, args []string) int {
	if len(args) == 0 {
		printCommands(e.stderr, e.name, about, cmds)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		printCommands(e.stdout, e.name, about, cmds)
		return exitOK
	case "help":
		if len(args) == 1 {
			printCommands(e.stdout, e.name, about, cmds)
			return exitOK
		}
		return dispatch(ctx, e, about, cmds, append(append([]string(nil), args[1:]...), "--help"))
	}
	for _, c := range cmds {
		if c.name == args[0] {
			sub := *e
			sub.name = e.name + " " + c.name
			return c.run(ctx, &sub, args[1:])
		}
	}
	if strings.HasPrefix(args[0], "-") {
		e.errorf("unknown flag %s; flags go after the command", flagName(args[0]))
	} else {
		e.errorf("unknown command %s", excerpt.Quote(args[0], 40))
	}
	e.usageHint()
	return exitUsage
}

func printCommands(w io.Writer, name, about string, cmds []command) {
	fmt.Fprintf(w, "Usage: %s <command> [flags] [arguments]\n\n%s\n\nCommands:\n", name, about)
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"%s <command> --help\" for a command's flags and arguments.\n", name)
}

// flagSet is a command's flag.FlagSet plus its help text. Parse errors go
// to the command's stderr; --help goes to its stdout.
type flagSet struct {
	*flag.FlagSet
	e        *env
	synopsis string // after the command name, e.g. "[flags] [TOKEN | -]"
	about    string // paragraph(s) under the synopsis
	// secretFromEnv: --app-secret was absent and its value came from
	// envAppSecret.
	secretFromEnv bool
}

// envAppSecret is read by every command that takes --app-secret when the
// flag is absent: the environment keeps the secret out of ps.
const envAppSecret = "SINCHSIM_APP_SECRET"

func (e *env) newFlags(synopsis, about string) *flagSet {
	fs := flag.NewFlagSet(e.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, e: e, synopsis: synopsis, about: about}
}

// parse parses args. ok is false when the command must stop and return
// code: after --help (0, usage on stdout) or a flag error (2, one line
// and a pointer to --help on stderr). When the command has --app-secret
// and it is absent, parse takes its value from envAppSecret.
func (fs *flagSet) parse(args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		fs.usage(fs.e.stdout)
		return exitOK, false
	default:
		return fs.invalid("%s", flagError(err)), false
	}
	if fs.Lookup("app-secret") != nil && !fs.isSet("app-secret") {
		if v := fs.e.lookupEnv(envAppSecret); v != "" {
			_ = fs.Set("app-secret", v) // a string flag: never fails
			fs.secretFromEnv = true
		}
	}
	return exitOK, true
}

// isSet reports whether the flag was given on the command line (or set
// from the environment).
func (fs *flagSet) isSet(name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// secretName names where the secret came from, for messages.
func (fs *flagSet) secretName() string {
	if fs.secretFromEnv {
		return envAppSecret
	}
	return "--app-secret"
}

// flagError rewrites the flag package's error in the documentation's
// spelling (--name), without the value of the flags that carry secrets.
func flagError(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "V" for flag -name: why
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			name, why, _ := strings.Cut(rest[i+len(" for flag -"):], ": ")
			if name == "app" || name == "app-secret" {
				return fmt.Sprintf("invalid value for flag --%s: %s", name, why)
			}
			return fmt.Sprintf("invalid value %s for flag --%s: %s", rest[:i], name, why)
		}
	}
	if rest, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return "unknown flag " + flagName(rest)
	}
	if rest, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return "flag " + flagName(rest) + " needs a value"
	}
	return msg
}

// usage prints the synopsis, the about text and every flag, written
// --name as the documentation writes them (the flag package takes both).
func (fs *flagSet) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", fs.e.name, fs.synopsis, fs.about)
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nFlags:\n")
			first = false
		}
		typ, text := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		text = strings.ReplaceAll(text, "\n", "\n        ")
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			text += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, text)
	})
}

// usageError reports a missing or misplaced argument. It is invalid under
// another name: every usage error is one line and a pointer to --help.
func (fs *flagSet) usageError(format string, args ...any) int {
	return fs.invalid(format, args...)
}

// invalid reports a usage error on stderr: one line, "name: message", and
// a pointer to --help (never the whole usage, which would bury the
// message). It returns exitUsage.
func (fs *flagSet) invalid(format string, args ...any) int {
	fs.e.errorf(format, args...)
	fs.e.usageHint()
	return exitUsage
}

// A usageErr is a usage error found by a command's validate or config
// step: the command exits 2 with one line and a pointer to --help.
type usageErr string

func (u usageErr) Error() string { return string(u) }

// usagef returns a usageErr.
func usagef(format string, args ...any) error {
	return usageErr(fmt.Sprintf(format, args...))
}

// fail reports err from a command's validate or config step and returns
// the exit status: exitUsage for a usageErr (one line and a pointer to
// --help), exitFail for anything else (one line).
func (fs *flagSet) fail(err error) int {
	var u usageErr
	if errors.As(err, &u) {
		return fs.invalid("%s", string(u))
	}
	fs.e.errorf("%v", err)
	return exitFail
}

// parseAll parses args, then refuses more than maxArgs positional
// arguments; ok is false when the command must stop and return code.
func (fs *flagSet) parseAll(args []string, maxArgs int) (code int, ok bool) {
	if code, ok := fs.parse(args); !ok {
		return code, false
	}
	return fs.maxArgs(maxArgs)
}

// require checks that the named string flags are set and not empty; the
// error is a usageErr.
func (fs *flagSet) require(names ...string) error {
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			if n == "app-secret" {
				return usagef("missing required flag --app-secret (or set %s)", envAppSecret)
			}
			return usagef("missing required flag --%s", n)
		}
	}
	return nil
}

// maxArgs refuses more than n positional arguments. It never echoes them:
// a misplaced "--app-secret S" after the token must not print S.
func (fs *flagSet) maxArgs(n int) (code int, ok bool) {
	if fs.NArg() <= n {
		return exitOK, true
	}
	for _, a := range fs.Args()[n:] {
		if len(a) > 1 && strings.HasPrefix(a, "-") {
			return fs.usageError("flag %s must come before the positional arguments", flagName(a)), false
		}
	}
	if n == 0 {
		return fs.usageError("unexpected argument: this command takes only flags"), false
	}
	return fs.usageError("too many arguments: want at most %d, got %d", n, fs.NArg()), false
}

// flagName returns "--name" for "-name", "--name" or "--name=value",
// dropping the value (which may be a secret).
func flagName(arg string) string {
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	return "--" + name
}

// timeFlag is an RFC 3339 time flag; the zero value means "not given".
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return errors.New("not an RFC 3339 time such as 2018-01-02T03:04:05Z")
	}
	f.t = t
	return nil
}

// or returns the flag's time, or def() when it was not given.
func (f *timeFlag) or(def func() time.Time) time.Time {
	if f.t.IsZero() {
		return def()
	}
	return f.t
}

// maxStdinToken bounds what a command reads from stdin for a token.
const maxStdinToken = 1 << 20

// errNoTTY: no token argument and stdin is a terminal; reading it would
// just hang with no prompt.
var errNoTTY = errors.New("no TOKEN given and stdin is a terminal: pass the token as an argument, pipe it in, or give - to type it")

// readInput returns the positional argument, or stdin when it is "-" or
// absent, bounded at maxStdinToken bytes and trimmed. Reading stops when
// ctx is cancelled (the reading goroutine is left to the process's exit).
func (e *env) readInput(ctx context.Context, args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		return strings.TrimSpace(args[0]), nil
	}
	if len(args) == 0 && isTerminal(e.stdin) {
		return "", errNoTTY
	}
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(e.stdin, maxStdinToken+1))
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return "", fmt.Errorf("reading stdin: %w", r.err)
		}
		if len(r.b) > maxStdinToken {
			return "", errTooLarge
		}
		return strings.TrimSpace(string(r.b)), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

var errTooLarge = errors.New("stdin holds more than 1 MiB")

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
