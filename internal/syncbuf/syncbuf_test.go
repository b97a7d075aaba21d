package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestBufferConcurrent(t *testing.T) {
	tests := []struct {
		name    string
		writers int
		each    int
	}{
		{name: "one writer", writers: 1, each: 100},
		{name: "many writers", writers: 8, each: 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Buffer
			var wg sync.WaitGroup
			for range tt.writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range tt.each {
						b.Write([]byte("x\n"))
						_ = b.String() // a reader beside the writers
					}
				}()
			}
			wg.Wait()
			if got := strings.Count(b.String(), "x\n"); got != tt.writers*tt.each {
				t.Errorf("%d lines, want %d", got, tt.writers*tt.each)
			}
		})
	}
}
