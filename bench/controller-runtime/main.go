// Command kindwatch-bench-controller-runtime is controller-runtime's side of `npm run bench -- queue`'s per-reconcile
// half: a no-op controller, as controller-runtime's builder makes one, For the ConfigMaps of one namespace.
//
//	kindwatch-bench-controller-runtime reconcile --kubeconfig P --namespace NS --objects N
//
// The reconcile reads the ConfigMap from the manager's cache and returns. It prints {"synced": true} once every one of
// the N objects has been reconciled once (the initial list's adds), then waits for "round R" on stdin: from then on
// the first reconcile of each object that reads annotation bench.kindwatch.dev/round=R records the time it finished,
// CLOCK_MONOTONIC in nanoseconds (the clock Node.js's process.hrtime reads too). Once all N have, it prints
// {"done_ns": [...by object index], "cpu_s", "reconciles"}: the process's user + system CPU from "round R" on. EOF on
// stdin ends it.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

const roundAnnotation = "bench.kindwatch.dev/round"

func main() {
	if len(os.Args) < 2 || os.Args[1] != "reconcile" {
		fail(fmt.Errorf("usage: %s reconcile --kubeconfig P --namespace NS --objects N", os.Args[0]))
	}
	if err := run(os.Args[2:]); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func monotonicNs() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Sec*1e9 + ts.Nsec
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// tracker records, per object index, the first reconcile that read the awaited round.
type tracker struct {
	mu         sync.Mutex
	objects    int
	seen       []bool
	seenCount  int
	round      string
	doneNs     []int64
	doneCount  int
	cpuBefore  float64
	reconciles atomic.Int64
	synced     chan struct{}
	finished   chan struct{}
}

func (t *tracker) record(index int, round string) {
	t.reconciles.Add(1)
	now := monotonicNs()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.seen[index] {
		t.seen[index] = true
		if t.seenCount++; t.seenCount == t.objects {
			close(t.synced)
		}
	}
	if t.round == "" || round != t.round || t.doneNs[index] != 0 {
		return
	}
	t.doneNs[index] = now
	if t.doneCount++; t.doneCount == t.objects {
		close(t.finished)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig path")
	namespace := fs.String("namespace", "", "namespace of the ConfigMaps")
	objects := fs.Int("objects", 10_000, "ConfigMaps obj-0 .. obj-N-1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log.SetLogger(zap.New(zap.UseDevMode(false), zap.Level(zapcore.ErrorLevel)))
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	// As the other peers run: without client-go's client-side rate limit.
	config.QPS = -1
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{*namespace: {}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return err
	}
	t := &tracker{
		objects:  *objects,
		seen:     make([]bool, *objects),
		doneNs:   make([]int64, *objects),
		synced:   make(chan struct{}),
		finished: make(chan struct{}),
	}
	reader := mgr.GetClient()
	err = ctrl.NewControllerManagedBy(mgr).
		For(&corev1.ConfigMap{}).
		Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
			var cm corev1.ConfigMap
			if err := reader.Get(ctx, req.NamespacedName, &cm); err != nil {
				return reconcile.Result{}, nil
			}
			index, err := strconv.Atoi(strings.TrimPrefix(req.Name, "obj-"))
			if err != nil || index < 0 || index >= t.objects {
				return reconcile.Result{}, nil
			}
			t.record(index, cm.Annotations[roundAnnotation])
			return reconcile.Result{}, nil
		}))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	managerDone := make(chan error, 1)
	go func() { managerDone <- mgr.Start(ctx) }()
	select {
	case <-t.synced:
	case err := <-managerDone:
		return fmt.Errorf("manager stopped before sync: %v", err)
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(map[string]any{"synced": true}); err != nil {
		return err
	}
	stdin := bufio.NewScanner(os.Stdin)
	for stdin.Scan() {
		line := strings.TrimSpace(stdin.Text())
		round, ok := strings.CutPrefix(line, "round ")
		if !ok {
			continue
		}
		t.mu.Lock()
		t.round = round
		t.cpuBefore = cpuSeconds()
		t.reconciles.Store(0)
		t.mu.Unlock()
		if err := out.Encode(map[string]any{"ready": true}); err != nil {
			return err
		}
		<-t.finished
		cpu := cpuSeconds() - t.cpuBefore
		if err := out.Encode(map[string]any{"done_ns": t.doneNs, "cpu_s": cpu, "reconciles": t.reconciles.Load()}); err != nil {
			return err
		}
	}
	cancel()
	<-managerDone
	return nil
}
