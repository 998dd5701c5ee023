// The Go half of client_libs_test.py: the tether Go Watcher as a proxy would use it, reporting
// what it receives on stdout in the same JSON lines as python_probe.py (see there), and taking
// "nack REASON" lines on stdin. --tls-ca (with --tls-cert, --tls-key, --tls-server-name) connects
// over TLS as tether.TLSFiles.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	tether "github.com/tether-sidecar/tether/client/go"
)

type probe struct {
	mu    sync.Mutex
	out   *json.Encoder
	armed string
}

func (p *probe) emit(event map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.out.Encode(event); err != nil {
		fmt.Fprintln(os.Stderr, "go_probe:", err)
		os.Exit(1)
	}
}

func (p *probe) readCommands() {
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		if line := scanner.Text(); strings.HasPrefix(line, "nack ") {
			p.mu.Lock()
			p.armed = strings.TrimPrefix(line, "nack ")
			p.mu.Unlock()
			p.emit(map[string]any{"event": "nack-armed"})
		}
	}
}

func (p *probe) onUpdate(_ context.Context, m *tether.Mirror, info tether.UpdateInfo) error {
	p.mu.Lock()
	reason := p.armed
	p.armed = ""
	p.mu.Unlock()
	entities := map[string]map[string]json.RawMessage{}
	for t, rows := range m.Entities {
		entities[t] = map[string]json.RawMessage{}
		for id, row := range rows {
			entities[t][id] = row
		}
	}
	metadata := map[string]json.RawMessage{}
	for k, v := range m.Metadata {
		metadata[k] = v
	}
	p.emit(map[string]any{"event": "update", "hash": m.ConfigHash, "full": info.Full,
		"base_hash": info.BaseHash, "source": m.Source.String(), "entities": entities,
		"metadata": metadata, "nacked": reason != ""})
	if reason != "" {
		return errors.New(reason)
	}
	return nil
}

func main() {
	target := flag.String("target", "", "tether's gRPC target")
	clientID := flag.String("client-id", "", "client id")
	types := flag.String("types", "", "comma-separated entity types")
	mode := flag.String("mode", "full", "full or delta")
	tlsFiles := tether.TLSFiles{}
	flag.StringVar(&tlsFiles.CAFile, "tls-ca", "", "CA of tether's TLS listener (enables TLS)")
	flag.StringVar(&tlsFiles.CertFile, "tls-cert", "", "client certificate")
	flag.StringVar(&tlsFiles.KeyFile, "tls-key", "", "client key")
	flag.StringVar(&tlsFiles.ServerName, "tls-server-name", "", "name in tether's certificate")
	flag.Parse()
	p := &probe{out: json.NewEncoder(os.Stdout)}
	opts := tether.Options{Target: *target, ClientID: *clientID, Mode: tether.ModeFull,
		BackoffMax: time.Second, OnUpdate: p.onUpdate,
		OnError: func(err error, retryIn time.Duration) {
			var werr *tether.WatchError
			errors.As(err, &werr)
			p.emit(map[string]any{"event": "error", "code": werr.Code.String(),
				"message": err.Error(), "retry_in": retryIn.Seconds()})
		}}
	if *types != "" {
		opts.EntityTypes = strings.Split(*types, ",")
	}
	if *mode == "delta" {
		opts.Mode = tether.ModeDelta
	}
	if tlsFiles.CAFile != "" {
		opts.TLS = &tlsFiles
	}
	watcher, err := tether.NewWatcher(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_probe:", err)
		os.Exit(2)
	}
	go p.readCommands()
	fmt.Fprintln(os.Stderr, "go_probe:", watcher.Run(context.Background()))
	os.Exit(1)
}
