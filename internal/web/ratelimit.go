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

// sitePrefixShare: an IPv6 /48 (one site: an office, a campus, a cloud
// tenant) may sign up this many times what one /64 may.
const sitePrefixShare = 4

// ipLimiter is a token bucket per client: an IPv4 address, or an IPv6 /64
// (the block one subscriber line gets) and, besides, its /48, so that an
// attacker spraying addresses across the /64s of one site is held by the
// site's bucket. Clients are kept in LRU order; a bucket idle long enough
// to have refilled is dropped (a fresh one is the same). When the tracker
// is full of active clients, a new client shares one overflow bucket
// instead of pushing out an active one: many addresses can neither grow
// the map nor make the limiter forget who is over the limit.
type ipLimiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration // time for an empty bucket to refill
	max   int

	mu       sync.Mutex
	clients  map[netip.Prefix]*list.Element
	lru      list.List // of *bucket; front is the most recent
	overflow *rate.Limiter
}

type bucket struct {
	key  netip.Prefix
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
		clients: make(map[netip.Prefix]*list.Element),
		// The overflow bucket stands for everyone the tracker has no room
		// for: a site's worth, not one client's.
		overflow: rate.NewLimiter(limit*sitePrefixShare, burst*sitePrefixShare),
	}
}

// allow takes a token for ip at now from each bucket it counts against,
// or reports how long to wait for one.
func (l *ipLimiter) allow(ip netip.Addr, now time.Time) (ok bool, retryAfter time.Duration) {
	keys := limitKeys(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evict(now)
	var lims []*rate.Limiter
	for i, key := range keys {
		lim := l.bucket(key, i > 0, now)
		lims = append(lims, lim)
		if lim == l.overflow {
			break // one shared bucket stands for the rest too
		}
	}
	var reserved []*rate.Reservation
	for _, lim := range lims {
		res := lim.ReserveN(now, 1)
		if !res.OK() {
			cancelAll(reserved, now)
			return false, l.idle
		}
		if d := res.DelayFrom(now); d > 0 {
			res.CancelAt(now) // the request is refused: give the tokens back
			cancelAll(reserved, now)
			return false, d
		}
		reserved = append(reserved, res)
	}
	return true, 0
}

func cancelAll(rs []*rate.Reservation, now time.Time) {
	for _, r := range rs {
		r.CancelAt(now)
	}
}

// bucket finds or makes key's limiter; site buckets allow sitePrefixShare
// times as much. With the tracker full it is the overflow bucket.
func (l *ipLimiter) bucket(key netip.Prefix, site bool, now time.Time) *rate.Limiter {
	if el, found := l.clients[key]; found {
		b := el.Value.(*bucket)
		b.seen = now
		l.lru.MoveToFront(el)
		return b.lim
	}
	if l.lru.Len() >= l.max {
		return l.overflow
	}
	lim := rate.NewLimiter(l.limit, l.burst)
	if site {
		lim = rate.NewLimiter(l.limit*sitePrefixShare, l.burst*sitePrefixShare)
	}
	l.clients[key] = l.lru.PushFront(&bucket{key: key, lim: lim, seen: now})
	return lim
}

// evict drops refilled buckets from the idle end. Site buckets take longer
// to refill than client buckets by nothing: both refill in l.idle.
func (l *ipLimiter) evict(now time.Time) {
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		b := el.Value.(*bucket)
		if now.Sub(b.seen) < l.idle {
			return
		}
		l.lru.Remove(el)
		delete(l.clients, b.key)
	}
}

// size is the number of buckets remembered (tests).
func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// limitKeys are the buckets a client counts against: an IPv4 address; an
// IPv6 /64 and its /48.
func limitKeys(ip netip.Addr) []netip.Prefix {
	ip = ip.Unmap()
	if ip.Is6() {
		p64, _ := ip.Prefix(64)
		p48, _ := ip.Prefix(48)
		return []netip.Prefix{p64, p48}
	}
	return []netip.Prefix{netip.PrefixFrom(ip, 32)}
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
