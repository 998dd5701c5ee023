// Watcher: what a Go proxy uses to follow tether's config. The Go twin of
// client/lib/config_watcher.h, with the same semantics: one Watch stream open at a time, chunks
// assembled into immutable Mirrors, every update acked (or nacked when OnUpdate returns an
// error), and after the stream breaks a reconnect with jittered backoff that resumes with the
// hash held, so a tether restart that changed nothing costs no resend.
//
// Concurrency: Run calls OnUpdate and OnError on its own goroutine, one at a time; Mirror may be
// called from any goroutine.

// Package tether is the Go client of tether's gRPC config API (proto/tether/v1).
package tether

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tether-sidecar/tether/client/go/tetherv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
)

// DefaultTarget is the sidecar's default socket (the default --data-dir).
const DefaultTarget = "unix:///var/lib/tether/tether.sock"

// After nacking an update that could not be assembled the watcher half-closes the stream so that
// tether reads the nack before the stream goes; if tether keeps it open longer, it is cancelled.
const nackGrace = time.Second

// Mode says how updates after the first arrive. Either way OnUpdate gets a whole Mirror.
type Mode int

const (
	// ModeFull: every update is a full snapshot of the subscribed types.
	ModeFull Mode = iota
	// ModeDelta: updates after the first carry only what changed; the watcher applies them.
	ModeDelta
)

// proto is the one place that names the generated enum values.
func (m Mode) proto() tetherv1.Mode {
	if m == ModeDelta {
		return tetherv1.Mode_MODE_DELTA
	}
	return tetherv1.Mode_MODE_FULL
}

// TLSFiles are PEM files for a TLS listener: CAFile verifies tether; CertFile and KeyFile, when
// set, authenticate this client. ServerName overrides the name checked in tether's certificate.
type TLSFiles struct {
	CAFile, CertFile, KeyFile, ServerName string
}

// Options configure a Watcher. ClientID and OnUpdate are required.
type Options struct {
	// Target is "unix:///path/tether.sock" or "host:port"; DefaultTarget when empty.
	Target string
	// ClientID names this client in tether's status and logs, e.g. "my-proxy@pod-1".
	ClientID string
	// EntityTypes to receive ("services", "routes", ...); empty means all.
	EntityTypes []string
	Mode        Mode
	// TLS, when set, secures the channel; plaintext otherwise.
	TLS *TLSFiles
	// Delay before reconnecting after the stream ended: uniform in [d/2, d] where d starts at
	// BackoffMin and doubles on each consecutive failure up to BackoffMax. A stream that
	// delivered an update resets it. Defaults: 100ms and 10s.
	BackoffMin, BackoffMax time.Duration
	// ResumeFrom is a mirror kept from an earlier run (optional): no resend when tether still
	// holds that config, a delta in ModeDelta when tether holds it in its history.
	ResumeFrom *Mirror
	// OnUpdate gets a new mirror after each complete update, in stream order. Return nil once
	// the proxy applied it (the watcher acks), or an error when it could not (the watcher nacks
	// with the error's text; tether shows it in its status). Either way the mirror stays the
	// watcher's state: the next update is relative to it. While it runs the watcher reads no
	// further updates, so tether coalesces the changes made meanwhile into the next one.
	OnUpdate func(ctx context.Context, mirror *Mirror, info UpdateInfo) error
	// OnError (optional) hears why a stream ended; the watcher starts the next one after retryIn.
	// The error is a *WatchError.
	OnError func(err error, retryIn time.Duration)
}

// WatchError says why a Watch stream ended. Code follows gRPC: Unavailable when tether is
// unreachable or ended the stream, InvalidArgument for an update that could not be assembled
// (the watcher nacks it and resubscribes for a full update).
type WatchError struct {
	Code    codes.Code
	Message string
}

func (e *WatchError) Error() string { return e.Message }

// Watcher subscribes to tether's config and keeps the subscription up while Run runs.
type Watcher struct {
	opts   Options
	mirror atomic.Pointer[Mirror]
}

// NewWatcher checks opts; Run connects.
func NewWatcher(opts Options) (*Watcher, error) {
	if opts.Target == "" {
		opts.Target = DefaultTarget
	}
	if opts.BackoffMin == 0 {
		opts.BackoffMin = 100 * time.Millisecond
	}
	if opts.BackoffMax == 0 {
		opts.BackoffMax = 10 * time.Second
	}
	switch {
	case opts.ClientID == "":
		return nil, errors.New("watcher ClientID is empty: name the client (tether shows it in " +
			"its status)")
	case opts.OnUpdate == nil:
		return nil, errors.New("watcher OnUpdate is not set")
	case opts.BackoffMin <= 0 || opts.BackoffMax < opts.BackoffMin:
		return nil, fmt.Errorf("watcher backoff must satisfy 0 < min <= max; got min %v, max %v",
			opts.BackoffMin, opts.BackoffMax)
	}
	w := &Watcher{opts: opts}
	if opts.ResumeFrom != nil {
		w.mirror.Store(opts.ResumeFrom)
	} else {
		w.mirror.Store(&Mirror{})
	}
	return w, nil
}

// Mirror is the mirror last delivered (ResumeFrom, or an empty one, before the first). Never nil.
func (w *Watcher) Mirror() *Mirror { return w.mirror.Load() }

// Run follows the config until ctx is done, then returns ctx.Err(); any other error is about the
// options (e.g. unreadable TLS files). Call it once at a time.
func (w *Watcher) Run(ctx context.Context) error {
	conn, err := w.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	client := tetherv1.NewConfigServiceClient(conn)
	failures := 0
	// False after an update could not be assembled, until a stream delivers one: resubscribe
	// without resume_hash to get a full update.
	resume := true
	for {
		progressed, werr := w.stream(ctx, client, resume)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if progressed {
			failures, resume = 0, true
		}
		if werr.Code == codes.InvalidArgument {
			resume = false
		}
		delay := w.backoff(failures)
		failures++
		if w.opts.OnError != nil {
			w.opts.OnError(werr, delay)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// backoff is uniform in [d/2, d], d = BackoffMin * 2^failures up to BackoffMax.
func (w *Watcher) backoff(failures int) time.Duration {
	ceiling := w.opts.BackoffMin
	for i := 0; i < failures && ceiling < w.opts.BackoffMax; i++ {
		ceiling *= 2
	}
	if ceiling > w.opts.BackoffMax {
		ceiling = w.opts.BackoffMax
	}
	return ceiling/2 + time.Duration(rand.Int63n(int64(ceiling/2)+1))
}

// stream runs one Watch call; it says whether it delivered an update and why it ended.
func (w *Watcher) stream(ctx context.Context, client tetherv1.ConfigServiceClient,
	resume bool) (bool, *WatchError) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Watch(ctx)
	if err != nil {
		return false, watchError(err)
	}
	subscribe := &tetherv1.Subscribe{
		ClientId:    w.opts.ClientID,
		EntityTypes: w.opts.EntityTypes,
		Mode:        w.opts.Mode.proto(),
	}
	held := w.mirror.Load()
	if resume {
		subscribe.ResumeHash = held.ConfigHash
	}
	// A failed Send means the stream broke; Recv reports why.
	_ = stream.Send(&tetherv1.WatchRequest{
		Request: &tetherv1.WatchRequest_Subscribe{Subscribe: subscribe}})
	assembler := NewAssembler(held)
	progressed := false
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return progressed, &WatchError{codes.Unavailable, "watch: tether ended the stream"}
		}
		if err != nil {
			return progressed, watchError(err)
		}
		mirror, info, err := assembler.Add(chunk)
		if err != nil {
			_ = stream.Send(nack(chunk.GetConfigHash(), err.Error()))
			_ = stream.CloseSend()
			timer := time.AfterFunc(nackGrace, cancel)
			for {
				// Drain until tether ends the stream or the grace runs out.
				if _, rerr := stream.Recv(); rerr != nil {
					break
				}
			}
			timer.Stop()
			return progressed, &WatchError{codes.InvalidArgument, fmt.Sprintf(
				"watch: update %s: %v; nacked, resubscribing for a full update",
				chunk.GetConfigHash(), err)}
		}
		if mirror == nil {
			continue // more chunks of this update to come
		}
		w.mirror.Store(mirror)
		progressed = true
		reply := &tetherv1.WatchRequest{Request: &tetherv1.WatchRequest_Ack{
			Ack: &tetherv1.Ack{ConfigHash: mirror.ConfigHash}}}
		if verdict := w.opts.OnUpdate(ctx, mirror, info); verdict != nil {
			reply = nack(mirror.ConfigHash, verdict.Error())
		}
		_ = stream.Send(reply)
	}
}

func nack(hash, message string) *tetherv1.WatchRequest {
	return &tetherv1.WatchRequest{Request: &tetherv1.WatchRequest_Nack{
		Nack: &tetherv1.Nack{ConfigHash: hash, Error: message}}}
}

func watchError(err error) *WatchError {
	s := status.Convert(err)
	return &WatchError{s.Code(), "watch: " + s.Message()}
}

func (w *Watcher) dial() (*grpc.ClientConn, error) {
	options := []grpc.DialOption{
		// gRPC's own reconnect backoff (1 s growing to 120 s) would find a restarted tether late.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
			BaseDelay: w.opts.BackoffMin, Multiplier: 2, Jitter: 0.2,
			MaxDelay: w.opts.BackoffMax}}),
	}
	target := w.opts.Target
	if strings.HasPrefix(target, "unix:") {
		// Dialled by hand: this gRPC release (Debian bookworm's 1.33) has no unix resolver.
		path := strings.TrimPrefix(strings.TrimPrefix(target, "unix://"), "unix:")
		target = "passthrough:///" + path
		options = append(options, grpc.WithAuthority("localhost"),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			}))
	}
	if w.opts.TLS == nil {
		options = append(options, grpc.WithInsecure())
	} else {
		config, err := w.opts.TLS.config()
		if err != nil {
			return nil, err
		}
		options = append(options, grpc.WithTransportCredentials(credentials.NewTLS(config)))
	}
	return grpc.Dial(target, options...)
}

func (f *TLSFiles) config() (*tls.Config, error) {
	ca, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, fmt.Errorf("watcher TLS CA: %w", err)
	}
	config := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: f.ServerName,
		MinVersion: tls.VersionTLS12}
	if !config.RootCAs.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("watcher TLS CA %s: no PEM certificate", f.CAFile)
	}
	if f.CertFile != "" || f.KeyFile != "" {
		certFile, keyFile := f.CertFile, f.KeyFile
		load := func() (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("watcher TLS client certificate: %w", err)
			}
			return &cert, nil
		}
		if _, err := load(); err != nil {
			return nil, err
		}
		// Read again at each handshake, so that a renewed certificate (cert-manager rotates
		// them) serves the next connection without restarting the watcher.
		config.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return load()
		}
	}
	return config, nil
}
