package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sinchsim/sinchsim/fakebackend"
)

// TestServeCallFlags: the call limits and the push webhook reach the
// backend's configuration; bad values are usage errors.
func TestServeCallFlags(t *testing.T) {
	parse := func(args ...string) (*serveFlags, error) {
		var f serveFlags
		e := &env{name: "serve"}
		fs := e.newFlags("[flags]", serveAbout)
		f.define(fs)
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		return &f, f.validate()
	}
	f, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config(time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Policy; p.MaxCallsPerMinute != fakebackend.DefaultMaxCallsPerMinute || p.MaxConcurrentCalls != fakebackend.DefaultMaxConcurrentCalls ||
		p.CallAnswerTimeout != fakebackend.DefaultCallAnswerTimeout || cfg.PushWebhook != "" {
		t.Fatalf("defaults: %+v, webhook %q", p, cfg.PushWebhook)
	}
	f, err = parse("--calls-per-minute", "-1", "--max-concurrent-calls", "2", "--call-answer-timeout", "10s", "--push-webhook", "http://127.0.0.1:9/push")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ = f.config(time.Now, nil)
	if p := cfg.Policy; p.MaxCallsPerMinute != -1 || p.MaxConcurrentCalls != 2 || p.CallAnswerTimeout != 10*time.Second || cfg.PushWebhook != "http://127.0.0.1:9/push" {
		t.Fatalf("set: %+v, webhook %q", p, cfg.PushWebhook)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--call-answer-timeout", "0s"}, "--call-answer-timeout must be positive"},
		{[]string{"--calls-per-minute", "0"}, "-1 for unlimited"},
		{[]string{"--max-concurrent-calls", "0"}, "-1 for unlimited"},
		{[]string{"--push-webhook", "ftp://h/x"}, "--push-webhook must be an http:// or https:// URL"},
	} {
		if _, err := parse(tc.args...); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.msg)
		}
	}
}
