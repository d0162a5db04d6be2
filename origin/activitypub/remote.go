package activitypub

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/redact"
	"github.com/subpub/subpub/internal/setting"
	"github.com/subpub/subpub/relay"
	"github.com/subpub/subpub/stream"
	"github.com/subpub/subpub/wire"
)

// Defaults of RemoteStreams.
const (
	// DefaultMaxRemoteStreams bounds the remote event streams a server
	// holds open at once for its subscribers.
	DefaultMaxRemoteStreams = 100
	// DefaultRemoteObjectTTL is how long the eventStream found in a remote
	// object is used before the object is fetched again.
	DefaultRemoteObjectTTL = time.Minute
	// DefaultRemoteFetchTimeout bounds the fetch of a remote object.
	DefaultRemoteFetchTimeout = 10 * time.Second
	// maxRemoteObjectBytes bounds a remote object's JSON.
	maxRemoteObjectBytes = 1 << 20
)

// RemoteStreams serves, at endpoints.proxyEventStream, the event streams of
// remote objects: the server fetches the object (GET, Accept:
// application/activity+json), finds its eventStream, and subscribes to it
// (SUB, or else text/event-stream) once for all its local subscribers,
// whose events it relays (through relay, as an edge does: a ring per
// stream, replay from it, catch-up further back). The local subscriber
// authenticates to this server (Authorization, or access_token for an
// EventSource); neither credential goes to the remote server, which is
// subscribed to anonymously, so only what it serves to anyone is relayed.
//
// It makes the server fetch URLs its users choose, so it is only for
// authenticated users, only for http and https, and it refuses names that
// resolve to loopback, private, link-local or otherwise non-public
// addresses unless AllowPrivate is set. The names are checked when the
// object is fetched and its stream subscribed to, not at every connection:
// a name whose addresses change in between (DNS rebinding) is not caught.
type RemoteStreams struct {
	// Client fetches the remote objects and subscribes to their streams;
	// in auto mode, it falls back to text/event-stream where SUB is
	// refused. Required.
	Client *client.Client

	// MaxStreams bounds the remote streams held open at once; a
	// subscription to another gets 503. Default DefaultMaxRemoteStreams.
	MaxStreams int

	// AllowPrivate lets the server fetch and subscribe at loopback,
	// private and link-local addresses (a private network, tests).
	AllowPrivate bool

	// Linger keeps a remote subscription open this long after its last
	// local subscriber leaves. Default relay.DefaultLinger.
	Linger time.Duration

	// Logger receives the remote subscriptions' failures. Default: the
	// Server's.
	Logger *slog.Logger

	initOnce sync.Once
	relay    *relay.Relay
	open     int // remote streams in the registry; guarded by its lock

	mu      sync.Mutex
	objects map[string]remoteObject // by id
}

// remoteObject is what was found in a remote object: its event stream.
type remoteObject struct {
	eventStream string
	fetched     time.Time
}

// init builds the relay, logging to logger (the Server's) unless Logger is
// set.
func (rs *RemoteStreams) init(logger *slog.Logger) {
	rs.initOnce.Do(func() {
		rs.objects = make(map[string]remoteObject)
		rs.relay = &relay.Relay{
			Client: rs.Client,
			Linger: rs.Linger,
			Logger: cmp.Or(rs.Logger, logger),
			OnRemove: func(*relay.Upstream) {
				rs.open--
			},
		}
	})
}

// Open counts the remote streams open now.
func (rs *RemoteStreams) Open() int {
	rs.init(nil)
	return rs.relay.Len()
}

// Close ends every remote subscription.
func (rs *RemoteStreams) Close() error {
	rs.init(nil)
	return rs.relay.Close()
}

// serveRemoteEventStream serves the event stream of the remote object id to
// an authenticated local subscriber.
func (s *Server) serveRemoteEventStream(w http.ResponseWriter, r *http.Request, format wire.Format, id string, cred credential) error {
	rs := s.Remote
	if rs == nil {
		return wire.Errorf(http.StatusNotFound, "%s is not on this server: remote objects are not supported (this server relays no remote event streams)", id)
	}
	if cred.actor == "" {
		return errUnauthorized("the event streams of remote objects are for this server's users: authenticate with a bearer token (or access_token)", false)
	}
	rs.init(s.log)
	lastID, err := wire.LastEventID(r.Header)
	if err != nil {
		return err
	}
	streamURL, err := rs.eventStreamOf(r.Context(), id)
	if err != nil {
		return err
	}
	if format == 0 {
		// A HEAD probe: the stream exists and the credentials may read it.
		h := w.Header()
		h.Set("Content-Type", wire.ContentTypeSSE)
		h.Set("Cache-Control", "private, no-cache")
		h.Set("Vary", "Authorization")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	u, created, cursor, err := rs.relay.Join(streamURL, func() (*relay.Upstream, error) {
		if limit := setting.Or(rs.MaxStreams, DefaultMaxRemoteStreams); rs.open >= limit {
			return nil, &wire.StatusError{
				Status:     http.StatusServiceUnavailable,
				Detail:     "this server relays at most " + strconv.Itoa(limit) + " remote event streams at once; retry later",
				RetryAfter: 10 * time.Second,
			}
		}
		rs.open++
		// Nothing of the local request: the remote server is not given
		// the subscriber's credentials, which are this server's.
		return rs.relay.NewUpstream(streamURL, http.Header{}, relay.Shared), nil
	})
	if err != nil {
		return err
	}
	if created {
		u.Start(lastID)
	}
	var once sync.Once
	release := func() { once.Do(func() { rs.relay.Leave(u) }) }
	err = rs.relay.Await(r.Context(), u)
	var feed stream.Feed
	if err == nil {
		feed, err = rs.relay.Feed(r.Context(), u, cursor, lastID, created, release)
	}
	if err != nil {
		release()
		if r.Context().Err() != nil {
			return nil
		}
		return relay.Error(err)
	}
	s.streams.Serve(w, r, format, stream.Subscription{
		Feed: s.guard(feed, "remote "+streamURL, cred),
		Vary: []string{"Authorization"},
	})
	return nil
}

// eventStreamOf is the eventStream of the remote object id, fetched (or
// remembered for DefaultRemoteObjectTTL).
func (rs *RemoteStreams) eventStreamOf(ctx context.Context, id string) (string, error) {
	target, err := rs.checkTarget(ctx, "id", id)
	if err != nil {
		return "", err
	}
	rs.mu.Lock()
	o, ok := rs.objects[id]
	rs.mu.Unlock()
	if ok && time.Since(o.fetched) < DefaultRemoteObjectTTL {
		return o.eventStream, nil
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultRemoteFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return "", wire.Errorf(http.StatusBadRequest, "id: %v", err)
	}
	req.Header.Set("Accept", contentTypeActivity+", application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"")
	resp, err := rs.Client.RoundTrip(req)
	if err != nil {
		return "", wire.Errorf(http.StatusBadGateway, "fetching %s: %v", redact.String(id), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", wire.Errorf(http.StatusBadGateway, "fetching %s: %s", redact.String(id), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteObjectBytes+1))
	if err != nil {
		return "", wire.Errorf(http.StatusBadGateway, "fetching %s: %v", redact.String(id), err)
	}
	streamURL, err := eventStreamIn(body, target)
	if err != nil {
		return "", err
	}
	if _, err := rs.checkTarget(ctx, "its eventStream", streamURL.String()); err != nil {
		return "", err
	}
	rs.mu.Lock()
	if len(rs.objects) >= 4*setting.Or(rs.MaxStreams, DefaultMaxRemoteStreams) {
		clear(rs.objects) // bounded: fetched again when asked for
	}
	rs.objects[id] = remoteObject{eventStream: streamURL.String(), fetched: time.Now()}
	rs.mu.Unlock()
	return streamURL.String(), nil
}

// eventStreamIn finds the eventStream of the remote object body, fetched
// from base, and resolves it against base.
func eventStreamIn(body []byte, base *url.URL) (*url.URL, error) {
	if len(body) > maxRemoteObjectBytes {
		return nil, wire.Errorf(http.StatusBadGateway, "%s is larger than %d bytes", redact.String(base.String()), maxRemoteObjectBytes)
	}
	var obj struct {
		EventStream any `json:"eventStream"`
	}
	if json.Unmarshal(body, &obj) != nil {
		return nil, wire.Errorf(http.StatusBadGateway, "%s is not an Activity Streams object (JSON)", redact.String(base.String()))
	}
	ref, ok := idOf(obj.EventStream)
	if !ok {
		return nil, wire.Errorf(http.StatusNotFound, "%s has no eventStream", redact.String(base.String()))
	}
	u, err := base.Parse(ref)
	if err != nil {
		return nil, wire.Errorf(http.StatusBadGateway, "%s: eventStream %q is not a URL", redact.String(base.String()), ref)
	}
	return u, nil
}

// checkTarget parses raw, a URL the server is asked to fetch (what says
// names it in errors), and refuses what it must not fetch: anything but
// http and https, and, unless AllowPrivate, a host that is or resolves to
// a non-public address.
func (rs *RemoteStreams) checkTarget(ctx context.Context, what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, wire.Errorf(http.StatusBadRequest, "%s: %q is not an http or https URL (without userinfo)", what, redact.String(raw))
	}
	if rs.AllowPrivate {
		return u, nil
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, wire.Errorf(http.StatusBadGateway, "%s: resolving %s: %v", what, host, err)
	}
	for _, a := range addrs {
		if !isPublic(a) {
			return nil, wire.Errorf(http.StatusForbidden, "%s: %s is at %s, a loopback, private or otherwise non-public address, which this server does not fetch", what, host, a)
		}
	}
	return u, nil
}

// isPublic reports whether a is a global unicast address outside the
// private, shared (RFC 6598) and link-local ranges.
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !sharedAddressSpace.Contains(a)
}

// sharedAddressSpace is carrier-grade NAT's range (RFC 6598).
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")
