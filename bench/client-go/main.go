// Command kindwatch-bench-client-go is client-go's side of `npm run bench -- informer`, `watchall` and `queue`,
// and the churn generator the informer benchmark drives every informer with.
//
//	kindwatch-bench-client-go informer --kubeconfig P --groups G1,G2,... --objects N
//	kindwatch-bench-client-go churn --kubeconfig P --namespace NS --groups G1,G2,... --objects N --count M --token T
//	kindwatch-bench-client-go watchall --mode sync|memory|newkinds --kubeconfig P --groups G1,G2,... (see watchall.go)
//	kindwatch-bench-client-go workqueue --producers P --workers W --ops N (see workqueue.go)
//
// informer: one dynamic shared informer factory with an informer per group's widgets, handlers counting events. It
// prints a JSON line once synced, then reads "done PATCHES" on stdin and prints the final JSON line once its handlers
// have seen that many events (or nothing more arrives for a while).
//
// churn: M merge patches, spread over the groups and objects, as fast as the server takes them; prints a JSON line.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// quiet is how long the informer waits for more events once told the churn is over, when fewer arrived than were sent.
const quiet = 2 * time.Second

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: %s informer|churn|watchall|workqueue [flags]", os.Args[0]))
	}
	var err error
	switch os.Args[1] {
	case "informer":
		err = informer(os.Args[2:])
	case "churn":
		err = churn(os.Args[2:])
	case "watchall":
		err = watchall(os.Args[2:])
	case "workqueue":
		err = workqueueBench(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: expected informer, churn, watchall or workqueue", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

type common struct {
	kubeconfig string
	groups     []string
	resource   string
	version    string
	objects    int
}

func (c *common) register(fs *flag.FlagSet) *string {
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster")
	fs.StringVar(&c.resource, "resource", "widgets", "resource of every group")
	fs.StringVar(&c.version, "version", "v1", "version of every group")
	fs.IntVar(&c.objects, "objects", 0, "objects in all, spread evenly over the groups")
	return fs.String("groups", "", "comma-separated API groups, one CRD each")
}

func (c *common) parse(fs *flag.FlagSet, groups *string, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.groups = strings.Split(*groups, ",")
	if c.kubeconfig == "" || *groups == "" || c.objects < 1 {
		return fmt.Errorf("%s needs --kubeconfig, --groups and --objects", fs.Name())
	}
	return nil
}

func (c *common) gvr(group string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: c.version, Resource: c.resource}
}

// config is the kubeconfig's, with client-go's client-side rate limit lifted: the benchmark measures the informer, not
// a token bucket (kindwatch's own limiter switches itself off once the server shows it does priority and fairness).
func (c *common) config() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS = -1
	return cfg, nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// heap is the live heap after a full collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// with is a copy of base with more's entries added.
func with(base, more map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(more))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

func emit(v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(line))
	return err
}

func informer(args []string) error {
	var c common
	fs := flag.NewFlagSet("informer", flag.ContinueOnError)
	groups := c.register(fs)
	if err := c.parse(fs, groups, args); err != nil {
		return err
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

	var adds, events atomic.Int64
	count := func() { events.Add(1) }
	handlers := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { adds.Add(1); count() },
		UpdateFunc: func(any, any) { count() },
		DeleteFunc: func(any) { count() },
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(client, 0)
	informers := make([]cache.SharedIndexInformer, 0, len(c.groups))
	for _, g := range c.groups {
		inf := factory.ForResource(c.gvr(g)).Informer()
		if _, err := inf.AddEventHandler(handlers); err != nil {
			return err
		}
		informers = append(informers, inf)
	}

	baseline := heap()
	cpuAtStart := cpuSeconds()
	started := time.Now()
	factory.Start(ctx.Done())
	// Polled far more often than cache.WaitForCacheSync's 100 ms, so that the figure is client-go's, not the poll's.
	for {
		synced := adds.Load() >= int64(c.objects)
		for _, inf := range informers {
			synced = synced && inf.HasSynced()
		}
		if synced {
			break
		}
		time.Sleep(time.Millisecond)
	}
	syncSeconds := time.Since(started).Seconds()
	syncCPU := cpuSeconds() - cpuAtStart
	stored := 0
	for _, inf := range informers {
		stored += len(inf.GetStore().ListKeys())
	}
	settled := heap()
	bytesPerObject := (float64(settled) - float64(baseline)) / float64(c.objects)
	synced := map[string]any{"objects": stored, "sync_s": syncSeconds, "sync_cpu_s": syncCPU, "bytes_per_object": bytesPerObject}
	if err := emit(with(synced, map[string]any{"phase": "synced"})); err != nil {
		return err
	}

	atSync := events.Load()
	cpuBefore := cpuSeconds()
	expected, err := awaitDone()
	if err != nil {
		return err
	}
	last, lastChange := events.Load(), time.Now()
	for events.Load()-atSync < expected {
		time.Sleep(time.Millisecond)
		if now := events.Load(); now != last {
			last, lastChange = now, time.Now()
		} else if time.Since(lastChange) > quiet {
			break
		}
	}
	received := events.Load() - atSync
	cpu := cpuSeconds() - cpuBefore
	perEvent := 0.0
	if received > 0 {
		perEvent = cpu / float64(received) * 1e6
	}
	return emit(with(synced, map[string]any{"phase": "done", "events": received, "cpu_s": cpu, "us_per_event": perEvent}))
}

// awaitDone reads stdin until "done PATCHES": the churn is over, and this many patches were made.
func awaitDone() (int64, error) {
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) == 2 && fields[0] == "done" {
			return strconv.ParseInt(fields[1], 10, 64)
		}
	}
	if err := scanner.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("stdin closed before \"done PATCHES\"")
}

func churn(args []string) error {
	var c common
	fs := flag.NewFlagSet("churn", flag.ContinueOnError)
	groups := c.register(fs)
	namespace := fs.String("namespace", "", "namespace of the objects")
	count := fs.Int("count", 20000, "patches to make")
	concurrency := fs.Int("concurrency", 64, "patches in flight")
	token := fs.String("token", "", "makes every patch of this churn a change")
	if err := c.parse(fs, groups, args); err != nil {
		return err
	}
	if *namespace == "" || *token == "" {
		return fmt.Errorf("churn needs --namespace and --token")
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	kinds := len(c.groups)
	perKind := c.objects / kinds
	resources := make([]dynamic.ResourceInterface, kinds)
	for i, g := range c.groups {
		resources[i] = client.Resource(c.gvr(g)).Namespace(*namespace)
	}

	var next, done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	started := time.Now()
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := next.Add(1) - 1; j < int64(*count); j = next.Add(1) - 1 {
				// Patch j goes to kind j mod K, object (j div K) mod per-kind: M <= N patches touch M distinct objects.
				kind := int(j) % kinds
				name := fmt.Sprintf("widget-%05d", (int(j)/kinds)%perKind)
				patch := fmt.Sprintf(`{"spec":{"image":"registry.example.com/bench/widget:churn-%s-%d"}}`, *token, j)
				_, err := resources[kind].Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("patch %s in %s: %w", name, c.groups[kind], err)
					}
					mu.Unlock()
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	seconds := time.Since(started).Seconds()
	if firstErr != nil {
		return firstErr
	}
	return emit(map[string]any{"patches": done.Load(), "seconds": seconds, "per_second": float64(done.Load()) / seconds})
}
