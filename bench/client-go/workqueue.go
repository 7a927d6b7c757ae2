// workqueue: client-go's side of `npm run bench -- queue`. One rate-limiting workqueue (what a controller uses),
// P producers adding N distinct keys between them and W workers taking each key and marking it done, all at once:
//
//	kindwatch-bench-client-go workqueue --producers P --workers W --ops N
//
// It prints one JSON line: {"ops", "processed", "wall_s", "cpu_s"}, the clock and the process's CPU (user + system)
// from the first add to the last done, the keys made beforehand.
package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func workqueueBench(args []string) error {
	fs := flag.NewFlagSet("workqueue", flag.ContinueOnError)
	producers := fs.Int("producers", 4, "goroutines adding keys")
	workers := fs.Int("workers", 4, "goroutines taking keys and marking them done")
	ops := fs.Int("ops", 100_000, "distinct keys added in all")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *producers < 1 || *workers < 1 || *ops < 1 {
		return fmt.Errorf("workqueue needs --producers, --workers and --ops of at least 1")
	}
	keys := make([]string, *ops)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench/key-%d", i)
	}
	q := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{},
	)
	var processed atomic.Int64
	var wg sync.WaitGroup
	cpuBefore := cpuSeconds()
	started := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Go(func() {
			for {
				key, shutdown := q.Get()
				if shutdown {
					return
				}
				q.Done(key)
				if processed.Add(1) == int64(*ops) {
					q.ShutDown()
				}
			}
		})
	}
	for p := 0; p < *producers; p++ {
		wg.Go(func() {
			for i := p; i < len(keys); i += *producers {
				q.Add(keys[i])
			}
		})
	}
	wg.Wait()
	wall := time.Since(started).Seconds()
	cpu := cpuSeconds() - cpuBefore
	return emit(map[string]any{"ops": *ops, "processed": processed.Load(), "wall_s": wall, "cpu_s": cpu})
}
