package sim

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"
)

func TestProfileHeap(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SIMHEAP"))
	if n == 0 {
		t.Skip()
	}
	heapHook = func() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("before end: heap %d MB, stacks %d MB, goroutines %d, sys %d MB", ms.HeapAlloc>>20, ms.StackInuse>>20, runtime.NumGoroutine(), ms.Sys>>20)
		f, _ := os.Create("/tmp/heap.out")
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	_, err := Run(context.Background(), Config{Bots: n, Period: 24 * time.Hour, InstanceTTL: 720 * time.Hour, Seed: 1, RenewalFailureRate: 0.000001})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("heap %d MB, stacks %d MB, goroutines %d, sys %d MB", ms.HeapAlloc>>20, ms.StackInuse>>20, runtime.NumGoroutine(), ms.Sys>>20)
}
