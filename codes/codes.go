package codes

import (
	"errors"
	"slices"
)

// Domain says where an error comes from, as the SDKs' error domains do.
type Domain string

// The domains.
const (
	// DomainAPI: a rule refused the request (a bad token, an unknown
	// instance); retry only when Retryable.
	DomainAPI Domain = "api"
	// DomainNetwork: transient, the server busy or shutting down, or the
	// connection lost; retry with backoff.
	DomainNetwork Domain = "network"
	// DomainHTTP: the request was malformed (protocol_error): a bug in the
	// sender.
	DomainHTTP Domain = "http"
	// DomainGeneric: the client itself (its state, its configuration, the
	// application's answer).
	DomainGeneric Domain = "generic"
)

// Group says which part of sinchsim gives a code.
type Group string

// The groups, in the order docs/ERRORS.md lists them.
const (
	// GroupCredentials: token rules (credentials.Verify) and Explain's
	// diagnoses.
	GroupCredentials Group = "credentials"
	// GroupCheck: what only sinchsim check sees, across tokens.
	GroupCheck Group = "check"
	// GroupBackend: what the backend answers besides the token rules.
	GroupBackend Group = "backend"
	// GroupClient: what a SinchClient reports of itself.
	GroupClient Group = "client"
)

// Info is everything said of one code.
type Info struct {
	Code  string `json:"code"`
	Group Group  `json:"group"`
	// Kind is "rejection" for a refusal, or what a diagnosis is and how
	// it weighs ("diagnosis, FAIL", "note, PASS", ...).
	Kind string `json:"kind"`
	// Domain and Retryable say how to react; Wire marks the codes of
	// protocol v1's error table.
	Domain    Domain `json:"domain,omitempty"`
	Retryable bool   `json:"retryable"`
	Wire      bool   `json:"wire"`
	// Rules are the rule numbers in docs/RULES.md ("4, 12", "5–7"), if any.
	Rules string `json:"rules,omitempty"`
	// Meaning and Fix are one line each, in Markdown.
	Meaning string `json:"meaning"`
	Fix     string `json:"fix"`
	// Check says what sinchsim check means by the code across tokens.
	Check string `json:"check,omitempty"`
	// WireMeaning is the shorter meaning in protocol v1's table, where it
	// differs.
	WireMeaning string `json:"wireMeaning,omitempty"`
}

var byCode = func() map[string]Info {
	m := make(map[string]Info, len(table))
	for _, i := range table {
		m[i.Code] = i
	}
	return m
}()

// Lookup returns what is said of code.
func Lookup(code string) (Info, bool) {
	i, ok := byCode[code]
	return i, ok
}

// All returns every code, group by group.
func All() []Info { return slices.Clone(table) }

// InGroup returns the codes of one group, in table order.
func InGroup(g Group) []Info {
	var out []Info
	for _, i := range table {
		if i.Group == g {
			out = append(out, i)
		}
	}
	return out
}

// Retryable reports whether a retry can help with code (false for an
// unknown code).
func Retryable(code string) bool { return byCode[code].Retryable }

// DomainOf returns code's domain (DomainAPI for an unknown code).
func DomainOf(code string) Domain {
	if d := byCode[code].Domain; d != "" {
		return d
	}
	return DomainAPI
}

// Coder is an error that carries a code: every error type of sinchsim.
type Coder interface {
	error
	ErrorCode() string
}

// Of returns the code carried by err or by an error it wraps, or "".
func Of(err error) string {
	var c Coder
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return ""
}
