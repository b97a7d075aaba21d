package main

import (
	"context"
	"errors"

	"github.com/benbjohnson/clock"

	"github.com/sinchsim/sinchsim/client"
	"github.com/sinchsim/sinchsim/credentials"
)

// Bot is the code under test: something of yours that wraps a SinchClient
// and registers one user. harness_test.go tests it against the fake
// backend.
type Bot struct {
	c *client.SinchClient
}

// BotConfig says where a Bot registers and how it gets its tokens.
type BotConfig struct {
	// URL is the backend (host:port or a ws:// URL).
	URL            string
	ApplicationKey string
	UserID         string
	// Provider supplies registration tokens.
	Provider credentials.Provider
	// Clock drives the client's timers (reconnect backoff, TTL renewal).
	// Tests pass the fake backend's mock clock; nil means real time.
	Clock clock.Clock
}

// NewBot builds a Bot; nothing connects before Start.
func NewBot(cfg BotConfig) (*Bot, error) {
	if cfg.Provider == nil {
		return nil, errors.New("harness: a bot needs a credentials provider")
	}
	opts := []client.Option{client.WithCredentialsProvider(cfg.Provider)}
	if cfg.Clock != nil {
		opts = append(opts, client.WithClock(cfg.Clock))
	}
	c, err := client.New(cfg.ApplicationKey, cfg.URL, cfg.UserID, opts...)
	if err != nil {
		return nil, err
	}
	return &Bot{c: c}, nil
}

// Start begins registering in the background.
func (b *Bot) Start() error { return b.c.Start() }

// WaitOnline waits until the bot is registered (nil) or could not register
// (the reason: a *client.Error whose Code is the backend's rejection code).
// While the client reconnects it keeps waiting.
func (b *Bot) WaitOnline(ctx context.Context) error { return b.c.WaitStarted(ctx) }

// Online reports whether the bot is registered now.
func (b *Bot) Online() bool { return b.c.IsStarted() }

// Client exposes the client, so that tests can synchronise with it
// (WaitIdle before moving a mock clock, WaitState).
func (b *Bot) Client() *client.SinchClient { return b.c }

// Stop terminates the client gracefully; it is safe to call twice.
func (b *Bot) Stop() { b.c.TerminateGracefully() }
