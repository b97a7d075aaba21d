package credentials

import (
	"slices"
	"testing"
)

// TestRuleTable: the one table of rules names each rule once, with a check
// of its own and a code of Codes, and every code a token can be refused
// with has a rule.
func TestRuleTable(t *testing.T) {
	names := map[string]bool{}
	codes := map[string]bool{}
	checks := map[check]bool{}
	if len(rules) != int(numChecks) {
		t.Errorf("%d rules for %d checks", len(rules), numChecks)
	}
	for i, r := range rules {
		if r.name == "" || r.check >= numChecks || checks[r.check] || !slices.Contains(Codes(), r.code) {
			t.Errorf("rule %d %q: want a name, a check of its own and a code of Codes", i, r.name)
		}
		checks[r.check] = true
		if names[r.name] {
			t.Errorf("two rules are named %q", r.name)
		}
		names[r.name], codes[r.code] = true, true
	}
	for _, code := range Codes() {
		if !codes[code] && code != CodeSequenceNotIncreasing { // legacy registrations have no token
			t.Errorf("no rule has the code %s", code)
		}
	}
	// The structure comes first: no content rule before the last rule on
	// the parts and their JSON.
	last := slices.IndexFunc(rules[:], func(r rule) bool { return r.name == "JSON objects" })
	for _, r := range rules[:last] {
		if r.code != CodeTokenMalformed || r.needs&^haveParts != 0 {
			t.Errorf("rule %q comes before the structure is judged", r.name)
		}
	}
}
