package web

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kbpress/kb/internal/config"
)

// defaultRateLimitClients bounds the limiter's memory: about 150 bytes a
// client, so some 1.5 MB at most.
const defaultRateLimitClients = 10000

// ipLimiter is a token bucket per client address. Clients are kept in LRU
// order; a bucket idle long enough to have refilled is dropped (a fresh one
// is the same), and past the cap the least recently seen client is
// forgotten, so many addresses cannot grow the map without bound.
type ipLimiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration // time for an empty bucket to refill
	max   int

	mu      sync.Mutex
	clients map[netip.Addr]*list.Element
	lru     list.List // of *bucket; front is the most recent
}

type bucket struct {
	key  netip.Addr
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiter(r config.Rate, maxClients int) *ipLimiter {
	if maxClients <= 0 {
		maxClients = defaultRateLimitClients
	}
	limit := rate.Limit(float64(r.Events) / r.Per.Seconds())
	// The burst is the whole allowance: a person who mistypes and retries
	// a few times never notices the limit; a script does.
	burst := max(r.Events, 1)
	return &ipLimiter{
		limit:   limit,
		burst:   burst,
		idle:    time.Duration(float64(burst) / float64(limit) * float64(time.Second)),
		max:     maxClients,
		clients: make(map[netip.Addr]*list.Element),
	}
}

// allow takes a token for ip at now, or reports how long to wait for one.
func (l *ipLimiter) allow(ip netip.Addr, now time.Time) (ok bool, retryAfter time.Duration) {
	key := limitKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if el, found := l.clients[key]; found {
		b = el.Value.(*bucket)
		l.lru.MoveToFront(el)
	} else {
		b = &bucket{key: key, lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[key] = l.lru.PushFront(b)
	}
	b.seen = now
	l.evict(now)
	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return false, l.idle
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now) // the request is refused: give the token back
		return false, d
	}
	return true, 0
}

// evict drops refilled buckets from the idle end, then any over the cap.
func (l *ipLimiter) evict(now time.Time) {
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		b := el.Value.(*bucket)
		if l.lru.Len() <= l.max && now.Sub(b.seen) < l.idle {
			return
		}
		l.lru.Remove(el)
		delete(l.clients, b.key)
	}
}

// size is the number of clients remembered (tests).
func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// limitKey groups IPv6 clients by /64, the block one subscriber line gets:
// otherwise a single client could use a fresh address per request.
func limitKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// trustedProxies are the peers whose X-Forwarded-For is believed.
type trustedProxies []netip.Prefix

func (t trustedProxies) contains(ip netip.Addr) bool {
	for _, p := range t {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is the address the request came from: the TCP peer, or, when
// the peer is a trusted proxy, the nearest address in X-Forwarded-For that
// is not a trusted proxy (walking from the right: entries further left
// were written by whoever the proxies talked to and can be forged).
func (t trustedProxies) clientIP(r *http.Request) netip.Addr {
	peer := peerIP(r.RemoteAddr)
	if !peer.IsValid() || !t.contains(peer) {
		return peer
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	var all []string
	for _, h := range hops {
		all = append(all, strings.Split(h, ",")...)
	}
	for i := len(all) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(all[i]))
		if err != nil {
			// Garbage from the untrusted side: the last trusted hop is
			// the best we know.
			return client
		}
		client = ip.Unmap()
		if !t.contains(client) {
			return client
		}
	}
	return client
}

func peerIP(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}
