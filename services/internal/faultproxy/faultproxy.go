// Package faultproxy is a reverse proxy in front of moto that makes it as
// strict as AWS where moto is kinder, and unreliable on a schedule the test
// controls: latency, 5xx answers, throttling errors and dropped
// connections, before or after the call reached moto.
//
// Strictness: moto's server handles requests on several threads and does
// not make a conditional write atomic with its condition check: eight
// concurrent conditional UpdateItem calls on one item can all succeed.
// DynamoDB evaluates a condition and applies the write atomically ("A
// conditional write succeeds only if the item attributes meet one or more
// expected conditions", and concurrent writers see the conditions of each
// other's writes: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate),
// so the proxy lets one DynamoDB call through to moto at a time.
package faultproxy

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Kind is one kind of injected fault.
type Kind string

// The faults.
const (
	Latency     Kind = "latency"     // the call is delayed, then made
	ServerError Kind = "5xx"         // 500 InternalServerError, the call is not made
	Throttle    Kind = "throttle"    // 400 throttling error, the call is not made
	DropBefore  Kind = "drop-before" // the connection is closed, the call is not made
	DropAfter   Kind = "drop-after"  // the call is made, the connection closed before the answer
	Outage      Kind = "outage"      // every call of the plan's services fails with 503
)

// Plan is the proxy's behaviour until the next SetPlan.
type Plan struct {
	Rate     float64       // chance that a call gets a fault, 0..1
	Kinds    []Kind        // the faults drawn from, evenly
	Latency  time.Duration // for Latency: the added delay (uniform in Latency/2..Latency)
	Services []string      // "dynamodb", "sqs"; empty: both
	Outage   bool          // every call of Services fails (503); overrides Rate
}

// Proxy forwards to one moto.
type Proxy struct {
	target *url.URL
	rp     *httputil.ReverseProxy
	srv    *http.Server
	lis    net.Listener
	dbMu   sync.Mutex // one DynamoDB call at a time (see the package comment)

	mu     sync.Mutex
	plan   Plan
	rng    *rand.Rand
	counts map[Kind]int
}

// Start listens on a loopback port and forwards to target (moto's URL).
// seed makes the fault draws repeatable.
func Start(target string, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("fault proxy target %q: %w", target, err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy: listen on loopback: %w", err)
	}
	p := &Proxy{target: u, lis: lis, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), counts: map[Kind]int{}}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	p.rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "fault proxy: moto unreachable: "+err.Error(), http.StatusBadGateway)
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(lis) }()
	return p, nil
}

// URL is the proxy's address, for AWS_ENDPOINT_URL.
func (p *Proxy) URL() string { return "http://" + p.lis.Addr().String() }

// Config is an AWS SDK configuration aimed at the proxy with moto's test
// credentials. (Setting BaseEndpoint on a configuration loaded for moto is
// not enough: the SDK prefers the endpoint of the configuration sources.)
func (p *Proxy) Config(ctx context.Context, region string) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithBaseEndpoint(p.URL()),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
	)
}

// Close stops the proxy.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	return p.srv.Close()
}

// SetPlan replaces the plan; the zero Plan injects nothing.
func (p *Proxy) SetPlan(pl Plan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan = pl
}

// Counts returns how many faults of each kind were injected so far.
func (p *Proxy) Counts() map[Kind]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Kind]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// service names the AWS service of a JSON-protocol call from its target
// header: "DynamoDB_20120810.PutItem" or "AmazonSQS.ReceiveMessage".
func service(r *http.Request) string {
	t := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(t, "DynamoDB_"):
		return "dynamodb"
	case strings.HasPrefix(t, "AmazonSQS."):
		return "sqs"
	}
	return ""
}

// draw picks the fault for one call, or "".
func (p *Proxy) draw(svc string) (Kind, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pl := p.plan
	if svc == "" || (len(pl.Services) > 0 && !contains(pl.Services, svc)) {
		return "", 0
	}
	if pl.Outage {
		p.counts[Outage]++
		return Outage, 0
	}
	if len(pl.Kinds) == 0 || p.rng.Float64() >= pl.Rate {
		return "", 0
	}
	k := pl.Kinds[p.rng.IntN(len(pl.Kinds))]
	p.counts[k]++
	var d time.Duration
	if k == Latency && pl.Latency > 0 {
		d = pl.Latency/2 + time.Duration(p.rng.Int64N(int64(pl.Latency/2)+1))
	}
	return k, d
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	svc := service(r)
	kind, delay := p.draw(svc)
	switch kind {
	case Outage:
		writeError(w, svc, http.StatusServiceUnavailable, "ServiceUnavailable", "injected outage")
		return
	case ServerError:
		writeError(w, svc, http.StatusInternalServerError, "InternalServerError", "injected 5xx")
		return
	case Throttle:
		code := "ThrottlingException"
		if svc == "dynamodb" {
			code = "ProvisionedThroughputExceededException"
		}
		writeError(w, svc, http.StatusBadRequest, code, "injected throttling")
		return
	case DropBefore:
		hangUp(w)
		return
	case Latency:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if svc == "dynamodb" {
		p.dbMu.Lock()
		defer p.dbMu.Unlock()
	}
	if kind == DropAfter {
		// Make the call, throw the answer away, hang up: the caller does
		// not know whether it happened.
		rec := &discard{header: http.Header{}}
		p.rp.ServeHTTP(rec, r)
		hangUp(w)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// writeError answers like the AWS JSON protocol: the error code in
// "__type" and X-Amzn-ErrorType.
func writeError(w http.ResponseWriter, svc string, status int, code, msg string) {
	prefix := "com.amazonaws.dynamodb.v20120810#"
	if svc == "sqs" {
		prefix = "com.amazonaws.sqs#"
	}
	body := fmt.Sprintf(`{"__type":%q,"message":%q}`, prefix+code, msg)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", code)
	// DynamoDB signs every answer with the CRC32 of its body, and the SDK
	// checks it.
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (d *discard) WriteHeader(int)             {}
