package client

import (
	"crypto/tls"
	"net/http"
	"time"
)

// newHTTPTransport is the HTTP/1.1 and HTTP/2 transport of a Client.
func newHTTPTransport(opts Options, tlsConf *tls.Config) *http.Transport {
	t := &http.Transport{
		TLSClientConfig:   tlsConf,
		ForceAttemptHTTP2: true,
		// Compression would make a proxy or server buffer an event stream.
		DisableCompression: true,
		// One response header section holds one event.
		MaxResponseHeaderBytes: int64(opts.maxEventSize()) + 16<<10,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConnsPerHost:    16,
		HTTP2: &http.HTTP2Config{
			// Ping a silent HTTP/2 connection so a dead one is noticed even
			// between keepalives.
			SendPingTimeout: 15 * time.Second,
			PingTimeout:     10 * time.Second,
			// Let the server index PUB fields in a table large enough for
			// several events, so that the PUBs of one event to the
			// subscriptions sharing this connection are a few bytes each.
			MaxDecoderHeaderTableSize: 64 << 10,
		},
		Protocols: new(http.Protocols),
	}
	switch opts.HTTP {
	case HTTP11:
		t.Protocols.SetHTTP1(true)
		t.TLSClientConfig.NextProtos = []string{"http/1.1"}
	case HTTP2:
		t.Protocols.SetHTTP2(true)
		t.Protocols.SetUnencryptedHTTP2(true)
	default:
		t.Protocols.SetHTTP1(true)
		t.Protocols.SetHTTP2(true)
	}
	return t
}
