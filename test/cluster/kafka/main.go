// Command kfake runs franz-go's kfake, an in-memory Kafka cluster that speaks the real wire protocol, as one broker on
// a loopback port, for the Kafka sink's tests: Apache Kafka itself (a JVM application) cannot be fetched here, kfake
// builds from the Go module proxy like the rest of the test cluster.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

type configs map[string]string

func (c configs) String() string { return "" }

func (c configs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("expected key=value, got %q", s)
	}
	c[k] = v
	return nil
}

func main() {
	port := flag.Int("port", 0, "loopback port to listen on (0: any free port)")
	dataDir := flag.String("data-dir", "", "folder that keeps the log across restarts (empty: memory only)")
	partitions := flag.Int("partitions", 1, "partitions of each seeded topic")
	var topics stringsFlag
	flag.Var(&topics, "topic", "topic to create at start (repeatable)")
	brokerConfigs := make(configs)
	flag.Var(brokerConfigs, "c", "broker config key=value (repeatable)")
	flag.Parse()

	opts := []kfake.Opt{kfake.Ports(*port), kfake.DefaultNumPartitions(*partitions)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), topics...))
	}
	if *dataDir != "" {
		// Every write reaches the disk before the produce is answered, so an acknowledged record survives a kill.
		opts = append(opts, kfake.DataDir(*dataDir), kfake.SyncWrites())
	}
	if len(brokerConfigs) > 0 {
		opts = append(opts, kfake.BrokerConfigs(brokerConfigs))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The harness waits for this line before it connects.
	fmt.Printf("listening %s\n", c.ListenAddrs()[0])

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	<-sigs
	c.Close()
}

type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}
