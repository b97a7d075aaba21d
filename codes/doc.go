// Package codes is the one home of every stable code sinchsim gives: the
// token rules' rejections, Explain's diagnoses, what sinchsim check sees
// across tokens, the backend's other answers and the client's own errors.
// Each code is declared once here with its domain, whether a retry can help,
// its rule in docs/RULES.md and a one-line meaning and fix; every other
// package uses these declarations, and docs/ERRORS.md and the code table of
// docs/PROTOCOL.md are generated from the same table.
//
//	i, _ := codes.Lookup(codes.SignatureInvalid)
//	fmt.Println(i.Meaning, i.Fix)
//
// Error is the one error with a code below package client: the token
// rules return it (credentials.Error) and the backend's error messages
// carry it (transport.Error); both are aliases of it.
//
// Codes never change meaning. It imports nothing of sinchsim, so any
// package may import it.
package codes
