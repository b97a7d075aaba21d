package sim

import (
	"context"
	"testing"
	"time"
)

func TestQuick(t *testing.T) {
	res, err := Run(context.Background(), Config{Bots: 5, Period: 60 * 24 * time.Hour, InstanceTTL: 72 * time.Hour, Seed: 7, Stagger: 48 * time.Hour, Outages: []Window{{240 * time.Hour, 36 * time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	res.Days = nil
	t.Logf("%+v", res)
	for _, l := range res.Lanes {
		t.Logf("%+v", l)
	}
}
