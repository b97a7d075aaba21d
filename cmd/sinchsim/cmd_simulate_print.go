package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sinchsim/sinchsim/internal/sim"
)

// printSimulation writes the result as text.
func printSimulation(w io.Writer, res sim.Result) {
	fmt.Fprintf(w, "simulate: %d clients, %s of simulated time from %s, instance TTL %s, renewal policy %s, seed %d\n",
		res.Bots, sim.Short(res.Period), res.Start.Format("2006-01-02 15:04"), sim.Short(res.InstanceTTL), res.RenewalPolicy, res.Seed)
	if res.RenewalFailureRate > 0 {
		fmt.Fprintf(w, "  renewal failure rate    %g per cycle\n", res.RenewalFailureRate)
	}
	for _, o := range res.Outages {
		fmt.Fprintf(w, "  auth server down        %s\n", sim.ShortWindow(o))
	}
	for _, o := range res.BackendOutages {
		fmt.Fprintf(w, "  backend down            %s\n", sim.ShortWindow(o))
	}
	if res.Stagger != "0s" {
		fmt.Fprintf(w, "  starts spread over      %s\n", sim.Short(res.Stagger))
	}
	if res.RestartEvery != "0s" {
		fmt.Fprintf(w, "  restarts every          %s (%d restarts)\n", sim.Short(res.RestartEvery), res.Restarts)
	}
	fmt.Fprintf(w, "  renewals                %d\n", res.Renewals)
	fmt.Fprintf(w, "  renewal cycles failed   %d\n", res.RenewalCyclesFailed)
	fmt.Fprintf(w, "  retries                 %d\n", res.Retries)
	fmt.Fprintf(w, "  expiries                %d (%d users)\n", res.Expiries, res.ExpiredUsersTotal)
	if res.FirstExpiry != nil {
		fmt.Fprintf(w, "  first expiry            %s\n", when(res, *res.FirstExpiry))
		fmt.Fprintf(w, "  last expiry             %s\n", when(res, *res.LastExpiry))
		fmt.Fprintf(w, "  expired                 %s\n", expiredUsers(res))
	}
	fmt.Fprintf(w, "  re-registrations        %d\n", res.ReRegistrations)
	fmt.Fprintf(w, "  registrations refused   %d\n", res.RegistrationFailures)
	fmt.Fprintf(w, "  time unregistered       %s in all, %s at most\n",
		secondsText(res.UnregisteredSeconds.Sum), secondsText(res.UnregisteredSeconds.Max))
	if len(res.RejectionsByCode) == 0 {
		fmt.Fprintf(w, "  rejections              none\n")
	} else {
		fmt.Fprintf(w, "  rejections\n")
		printCodes(w, res.RejectionsByCode, nil)
	}
	if c := res.Calls; c != nil {
		fmt.Fprintf(w, "  calls                   %d placed (%g per client per day), %d answered, %d failed\n", c.Placed, res.CallsPerDay, c.Answered, c.Failed)
		printCodes(w, c.FailedByCause, nil)
	}
	fmt.Fprintf(w, "  failed clients at end   %d\n", res.Failed)
	fmt.Fprintf(w, "  clock steps             %d\n", res.Steps)
	fmt.Fprintf(w, "  wall time               %.3f s\n", res.WallSeconds)
}

// when writes t with its day and its offset from the start.
func when(res sim.Result, t time.Time) string {
	off := t.Sub(res.Start)
	return fmt.Sprintf("%s (day %d, start+%s)", t.Format("2006-01-02 15:04:05"), int(off/(24*time.Hour))+1, off)
}

// expiredUsers lists the first expiries, "user at time".
func expiredUsers(res sim.Result) string {
	var parts []string
	for _, x := range res.ExpiredUsers {
		parts = append(parts, x.User+" at "+x.At.Format("01-02 15:04:05"))
	}
	s := strings.Join(parts, ", ")
	if more := res.Expiries - len(res.ExpiredUsers); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// secondsText renders seconds as a duration to the second.
func secondsText(s float64) string {
	return (time.Duration(s*float64(time.Second)) + time.Second/2).Truncate(time.Second).String()
}
