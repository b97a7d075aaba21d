// Package rawclient drives one protocol v1 connection message by message,
// for tests that check what a backend, or several replicas of one, says on
// the wire with no client library in between: each message is taken as it
// comes, notices included.
package rawclient
