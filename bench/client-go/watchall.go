package main

// client-go's side of `npm run bench -- watchall`: the watch-all design written with client-go, for comparison with
// kindwatch's engine.
//
//	kindwatch-bench-client-go watchall --mode sync --kubeconfig P --groups G1,G2,... --objects N [--new-groups N1,...]
//	kindwatch-bench-client-go watchall --mode memory --kubeconfig P --groups G1,G2,...
//	kindwatch-bench-client-go watchall --mode newkinds --kubeconfig P --groups G1,G2,...
//
// sync: time until every kind is synced and its handlers have had every object, the process's CPU in that time and
// its peak RSS, then its RSS after runtime.GC(): {"sync_s", "cpu_s", "peak_rss_bytes", "events", "rss_bytes"}. It then
// keeps watching (the parent counts its connections) and takes commands on stdin: "newkinds" reports the new kinds of
// the groups N1,... (included from the start, made by the parent only now) as newkinds does, from {"ready"} on, while
// every kind of G1,... is still watched; "done" ends it with {"done"}.
// memory: RSS (and Go heap) after a full collection with every kind watched, minus with the first only, per added
// kind: {"bytes_per_kind", "heap_per_kind", ...}.
// newkinds: prints {"ready"} once the CRD informer has synced, then, as it happens, {"group", "established"} (the CRD
// informer saw the CRD Established), {"group", "synced"} (the kind's informer has synced) and {"group", "event"} (the
// kind's first add); times are CLOCK_MONOTONIC milliseconds, comparable across processes. "done" on stdin ends it.

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// monotonicMs is CLOCK_MONOTONIC in milliseconds, the clock Node.js's process.hrtime reads too.
func monotonicMs() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return float64(ts.Sec)*1e3 + float64(ts.Nsec)/1e6
}

// served is what an Established CRD serves at its preferred version (the first served one in the API server's
// kube-aware order: GA before beta before alpha, then highest); ok is false when it serves nothing yet.
func served(crd *unstructured.Unstructured) (gvr schema.GroupVersionResource, ok bool) {
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	established := false
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			established = true
		}
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var names []string
	for _, v := range versions {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		if m["served"] == true && name != "" {
			names = append(names, name)
		}
	}
	if !established || group == "" || plural == "" || len(names) == 0 {
		return gvr, false
	}
	sort.Slice(names, func(i, j int) bool { return version.CompareKubeAwareVersionStrings(names[i], names[j]) > 0 })
	return schema.GroupVersionResource{Group: group, Version: names[0], Resource: plural}, true
}

// watchedKind is one kind's informer, run under a context of its own so that it can stop alone.
type watchedKind struct {
	gvr          schema.GroupVersionResource
	informer     cache.SharedIndexInformer
	registration cache.ResourceEventHandlerRegistration
	stop         context.CancelFunc
	synced       bool
}

// watchAll is the design kindwatch's engine has, as one would write it with client-go: a dynamic informer factory
// whose informer on CustomResourceDefinitions starts a dynamic informer for the preferred version of each
// Established CRD of an included group, moves it when that version changes and stops it when the CRD goes. The
// factory shares one stop channel among its informers, so each kind's informer is made with
// NewFilteredDynamicInformer and run under its own context instead.
type watchAll struct {
	ctx     context.Context
	client  dynamic.Interface
	include map[string]bool
	// objects handles the events of every kind's objects.
	objects       func(group string) cache.ResourceEventHandler
	onEstablished func(group string)
	factory       dynamicinformer.DynamicSharedInformerFactory
	crds          cache.SharedIndexInformer

	mu    sync.Mutex
	kinds map[string]*watchedKind // by CRD name
}

func newWatchAll(ctx context.Context, client dynamic.Interface, groups []string, objects func(string) cache.ResourceEventHandler, onEstablished func(string)) (*watchAll, error) {
	w := &watchAll{
		ctx:           ctx,
		client:        client,
		include:       map[string]bool{},
		objects:       objects,
		onEstablished: onEstablished,
		factory:       dynamicinformer.NewDynamicSharedInformerFactory(client, 0),
		kinds:         map[string]*watchedKind{},
	}
	for _, g := range groups {
		w.include[g] = true
	}
	w.crds = w.factory.ForResource(crdGVR).Informer()
	_, err := w.crds.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    w.crdChanged,
		UpdateFunc: func(_, obj any) { w.crdChanged(obj) },
		DeleteFunc: w.crdDeleted,
	})
	if err != nil {
		return nil, err
	}
	w.factory.Start(ctx.Done())
	return w, nil
}

func (w *watchAll) crdChanged(obj any) {
	crd, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	gvr, ok := served(crd)
	if !ok || !w.include[gvr.Group] {
		w.stopKind(crd.GetName())
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	kind := w.kinds[crd.GetName()]
	if kind != nil && kind.gvr == gvr {
		return
	}
	if kind != nil {
		kind.stop()
	} else if w.onEstablished != nil {
		w.onEstablished(gvr.Group)
	}
	informer := dynamicinformer.NewFilteredDynamicInformer(w.client, gvr, "", 0, cache.Indexers{}, nil).Informer()
	registration, err := informer.AddEventHandler(w.objects(gvr.Group))
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(w.ctx)
	w.kinds[crd.GetName()] = &watchedKind{gvr: gvr, informer: informer, registration: registration, stop: stop}
	go informer.RunWithContext(ctx)
}

func (w *watchAll) crdDeleted(obj any) {
	if gone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = gone.Obj
	}
	if crd, ok := obj.(*unstructured.Unstructured); ok {
		w.stopKind(crd.GetName())
	}
}

func (w *watchAll) stopKind(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if kind := w.kinds[name]; kind != nil {
		kind.stop()
		delete(w.kinds, name)
	}
}

// newlySynced marks and returns the groups of the kinds whose handlers have had their initial objects since the last
// call. client-go has no event for it, so the harness polls this every millisecond.
func (w *watchAll) newlySynced() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, kind := range w.kinds {
		if !kind.synced && kind.registration.HasSynced() {
			kind.synced = true
			out = append(out, kind.gvr.Group)
		}
	}
	return out
}

// syncedKinds is how many kinds are watched and synced.
func (w *watchAll) syncedKinds() int {
	w.newlySynced()
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, kind := range w.kinds {
		if kind.synced {
			n++
		}
	}
	return n
}

// awaitSynced polls until `kinds` kinds are synced and done() says so.
func (w *watchAll) awaitSynced(kinds int, done func() bool) {
	for w.syncedKinds() < kinds || !done() {
		time.Sleep(time.Millisecond)
	}
}

// counting handlers count adds and every event.
func counting(adds, events *atomic.Int64) func(string) cache.ResourceEventHandler {
	handlers := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { adds.Add(1); events.Add(1) },
		UpdateFunc: func(any, any) { events.Add(1) },
		DeleteFunc: func(any) { events.Add(1) },
	}
	return func(string) cache.ResourceEventHandler { return handlers }
}

// rss is the process's resident set after a full collection with the freed memory given back to the system.
func rss() (uint64, error) {
	debug.FreeOSMemory()
	return vmRSS()
}

// vmRSS is the process's resident set now.
func vmRSS() (uint64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "VmRSS:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}

func watchall(args []string) error {
	var c common
	fs := flag.NewFlagSet("watchall", flag.ContinueOnError)
	groups := c.register(fs)
	mode := fs.String("mode", "", "sync, memory or newkinds")
	newGroups := fs.String("new-groups", "", "sync: comma-separated groups of the new kinds to follow once told")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.groups = strings.Split(*groups, ",")
	if c.kubeconfig == "" || *groups == "" || *mode == "" {
		return fmt.Errorf("watchall needs --mode, --kubeconfig and --groups")
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	switch *mode {
	case "sync":
		return watchallSync(ctx, client, c, strings.FieldsFunc(*newGroups, func(r rune) bool { return r == ',' }))
	case "memory":
		return watchallMemory(ctx, client, c.groups)
	case "newkinds":
		return watchallNewKinds(ctx, client, c.groups)
	}
	return fmt.Errorf("unknown mode %q: expected sync, memory or newkinds", *mode)
}

// newKindReports reports, for the groups of `fresh` only, when each kind's CRD is seen Established and its first object
// event; emits are serialised with every other line of the process through mu.
type newKindReports struct {
	mu    *sync.Mutex
	fresh map[string]bool
	seen  sync.Map
}

func (r *newKindReports) report(group, what string) {
	at := monotonicMs()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := emit(map[string]any{"group": group, what: at}); err != nil {
		panic(err)
	}
}

func (r *newKindReports) established(group string) {
	if r.fresh[group] {
		r.report(group, "established")
	}
}

func (r *newKindReports) first(group string) {
	if _, dup := r.seen.LoadOrStore(group, true); !dup {
		r.report(group, "event")
	}
}

// handlers are a fresh group's first-event reporters, else `others`.
func (r *newKindReports) handlers(others func(string) cache.ResourceEventHandler) func(string) cache.ResourceEventHandler {
	return func(group string) cache.ResourceEventHandler {
		if !r.fresh[group] {
			return others(group)
		}
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { r.first(group) },
			UpdateFunc: func(any, any) { r.first(group) },
		}
	}
}

// follow reports each fresh kind as its informer syncs, polling every millisecond, until ctx ends.
func (r *newKindReports) follow(ctx context.Context, w *watchAll) {
	for ctx.Err() == nil {
		for _, group := range w.newlySynced() {
			if r.fresh[group] {
				r.report(group, "synced")
			}
		}
		time.Sleep(time.Millisecond)
	}
}

func watchallSync(ctx context.Context, client dynamic.Interface, c common, newGroups []string) error {
	var adds, events atomic.Int64
	var mu sync.Mutex
	news := &newKindReports{mu: &mu, fresh: map[string]bool{}}
	for _, g := range newGroups {
		news.fresh[g] = true
	}
	started := time.Now()
	cpuAtStart := cpuSeconds()
	w, err := newWatchAll(ctx, client, append(append([]string{}, c.groups...), newGroups...), news.handlers(counting(&adds, &events)), news.established)
	if err != nil {
		return err
	}
	expected := int64(len(c.groups) * c.objects)
	w.awaitSynced(len(c.groups), func() bool { return adds.Load() >= expected })
	seconds, cpu := time.Since(started).Seconds(), cpuSeconds()-cpuAtStart
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	runtime.GC()
	settled, err := vmRSS()
	if err != nil {
		return err
	}
	mu.Lock()
	// Linux counts ru_maxrss in KiB.
	err = emit(map[string]any{"sync_s": seconds, "cpu_s": cpu, "peak_rss_bytes": ru.Maxrss * 1024, "events": adds.Load(), "rss_bytes": settled})
	mu.Unlock()
	if err != nil {
		return err
	}
	following := false
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		switch strings.TrimSpace(scanner.Text()) {
		case "newkinds":
			if !following {
				following = true
				go news.follow(ctx, w)
				mu.Lock()
				err = emit(map[string]any{"ready": true})
				mu.Unlock()
				if err != nil {
					return err
				}
			}
		case "done":
			mu.Lock()
			defer mu.Unlock()
			return emit(map[string]any{"done": true})
		}
	}
	return fmt.Errorf("stdin closed before \"done\"")
}

func watchallMemory(ctx context.Context, client dynamic.Interface, groups []string) error {
	var adds, events atomic.Int64
	measure := func(include []string) (rssBytes, heapBytes uint64, err error) {
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		w, err := newWatchAll(ctx, client, include, counting(&adds, &events), nil)
		if err != nil {
			return 0, 0, err
		}
		w.awaitSynced(len(include), func() bool { return true })
		heapBytes = heap()
		rssBytes, err = rss()
		return rssBytes, heapBytes, err
	}
	rssOne, heapOne, err := measure(groups[:1])
	if err != nil {
		return err
	}
	// What the first design left running winds down before the second starts.
	time.Sleep(time.Second)
	runtime.GC()
	rssAll, heapAll, err := measure(groups)
	if err != nil {
		return err
	}
	added := float64(len(groups) - 1)
	return emit(map[string]any{
		"bytes_per_kind": (float64(rssAll) - float64(rssOne)) / added,
		"heap_per_kind":  (float64(heapAll) - float64(heapOne)) / added,
		"rss_one_kind":   rssOne,
		"rss_all_kinds":  rssAll,
	})
}

func watchallNewKinds(ctx context.Context, client dynamic.Interface, groups []string) error {
	var mu sync.Mutex
	news := &newKindReports{mu: &mu, fresh: map[string]bool{}}
	for _, g := range groups {
		news.fresh[g] = true
	}
	none := func(string) cache.ResourceEventHandler { return cache.ResourceEventHandlerFuncs{} }
	w, err := newWatchAll(ctx, client, groups, news.handlers(none), news.established)
	if err != nil {
		return err
	}
	if !cache.WaitForCacheSync(ctx.Done(), w.crds.HasSynced) {
		return fmt.Errorf("the CRD informer did not sync")
	}
	go news.follow(ctx, w)
	mu.Lock()
	err = emit(map[string]any{"ready": true})
	mu.Unlock()
	if err != nil {
		return err
	}
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		if strings.TrimSpace(scanner.Text()) == "done" {
			mu.Lock()
			defer mu.Unlock()
			return emit(map[string]any{"done": true})
		}
	}
	return fmt.Errorf("stdin closed before \"done\"")
}
