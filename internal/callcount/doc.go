// Package callcount counts the calls of a run: placed, answered, and
// failed by cause. `sinchsim bots` and `sinchsim simulate` count their
// calls with it and report them in the same JSON fields.
package callcount
