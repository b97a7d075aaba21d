package credentials

import (
	"slices"
	"testing"
)

// TestRuleTable: the one table of rules names each rule once, with a code
// of Codes, and every code a token can be refused with has a rule.
func TestRuleTable(t *testing.T) {
	rules := ruleTable()
	names := map[string]bool{}
	codes := map[string]bool{}
	for i, r := range rules {
		if r.name == "" || !slices.Contains(Codes(), r.code) {
			t.Errorf("rule %d %q: want a name and a code of Codes", i, r.name)
		}
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
	last := slices.IndexFunc(rules, func(r ruleRow) bool { return r.name == "JSON objects" })
	for _, r := range rules[:last] {
		if r.code != CodeTokenMalformed || r.needs&^haveParts != 0 {
			t.Errorf("rule %q comes before the structure is judged", r.name)
		}
	}
}

// ruleTable lists the rules of the table (judgement.run), in order.
func ruleTable() []ruleRow {
	var rows []ruleRow
	j := &judgement{table: &rows}
	j.run()
	return rows
}

// TestVerifyAllocs: Verify's judgement stays on its stack (see
// judgement.rule): a valid token costs the token, its decoded header and
// payload, and the strings of kid, iss, sub and nonce.
func TestVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what allocates")
	}
	v, _ := seedVerifier(nil)
	n := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(seedJWT, VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if n != 6 {
		t.Errorf("Verify allocates %v times, want 6", n)
	}
}
