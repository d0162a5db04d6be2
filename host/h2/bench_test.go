package h2

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// BenchmarkInterimFanout delivers one event (a 105 with a 1 KiB Event-Data)
// to each of 100 subscriptions sharing one h2c connection, per iteration:
// from each handler with WriteHeader (this server and net/http's), and in
// one Conn.Batch (this server). The client is a raw framer that decodes
// and counts.
func BenchmarkInterimFanout(b *testing.B) {
	const subs = 100
	data := strings.Repeat("d", 1024)
	// h2-batch-never-indexed is h2-batch with a private stream's fields,
	// which every stream sends as literals (see NewNeverIndexedFields);
	// h2-batch-limited is h2-batch with a client that advertises
	// SETTINGS_MAX_HEADER_LIST_SIZE, as Go's and Chromium's do, so that
	// every PUB is measured against it.
	for _, mode := range []string{"nethttp", "h2", "h2-batch", "h2-batch-never-indexed", "h2-batch-limited"} {
		b.Run(mode, func(b *testing.B) {
			var mu sync.Mutex
			var ws []http.ResponseWriter
			ticks := make([]chan int, 0, subs)
			ready := make(chan struct{}, subs)
			for range subs {
				ticks = append(ticks, make(chan int, 1))
			}
			var next atomic.Int32
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tick := ticks[next.Add(1)-1]
				w.WriteHeader(106)
				mu.Lock()
				ws = append(ws, w)
				mu.Unlock()
				ready <- struct{}{}
				hd := w.Header()
				for {
					select {
					case i := <-tick:
						hd.Set("Event", strconv.Itoa(i))
						hd.Set("Event-Data", data)
						w.WriteHeader(105)
					case <-r.Context().Done():
						return
					}
				}
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			var h2srv *Server
			var nsrv *http.Server
			ctx, cancel := context.WithCancel(context.Background())
			if mode == "nethttp" {
				nsrv = &http.Server{Handler: h, Protocols: new(http.Protocols),
					HTTP2: &http.HTTP2Config{MaxEncoderHeaderTableSize: DefaultHeaderTableSize}}
				nsrv.Protocols.SetUnencryptedHTTP2(true)
				wg.Go(func() { nsrv.Serve(ln) })
			} else {
				h2srv = &Server{Handler: h}
				wg.Go(func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						wg.Go(func() { h2srv.ServeConn(ctx, c) })
					}
				})
			}

			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			fr := http2.NewFramer(nc, nc)
			fr.ReadMetaHeaders = hpack.NewDecoder(64<<10, nil)
			fr.MaxHeaderListSize = 1 << 20
			nc.Write([]byte(http2.ClientPreface))
			settings := []http2.Setting{{ID: http2.SettingHeaderTableSize, Val: 64 << 10}}
			if mode == "h2-batch-limited" {
				settings = append(settings, http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 1 << 20})
			}
			fr.WriteSettings(settings...)
			var got, want atomic.Int64
			all := make(chan struct{}, 1) // the client has every PUB of the event
			var wmu sync.Mutex            // the reader acknowledges SETTINGS while HEADERS go out
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				for {
					f, err := fr.ReadFrame()
					if err != nil {
						return
					}
					switch f := f.(type) {
					case *http2.SettingsFrame:
						if !f.IsAck() {
							wmu.Lock()
							fr.WriteSettingsAck()
							wmu.Unlock()
						}
					case *http2.MetaHeadersFrame:
						if f.PseudoValue("status") == "105" && got.Add(1) == want.Load() {
							all <- struct{}{}
						}
					}
				}
			}()
			var ebuf strings.Builder
			enc := hpack.NewEncoder(&ebuf)
			for i := range subs {
				ebuf.Reset()
				for _, f := range hf(":method", "SUB", ":scheme", "http", ":authority", "b", ":path", "/t") {
					enc.WriteField(f)
				}
				wmu.Lock()
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: []byte(ebuf.String()), EndStream: true, EndHeaders: true})
				wmu.Unlock()
			}
			for range subs {
				<-ready
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				want.Store(int64(subs * (i + 1)))
				if strings.HasPrefix(mode, "h2-batch") {
					prepare := NewFields
					if mode == "h2-batch-never-indexed" {
						prepare = NewNeverIndexedFields
					}
					f := prepare(http.Header{"Event": {strconv.Itoa(i)}, "Event-Data": {data}})
					ConnOf(ws[0]).Batch(func(bt *Batch) {
						for _, w := range ws {
							bt.Interim(w, 105, f)
						}
					})
				} else {
					for _, t := range ticks {
						t <- i
					}
				}
				// The cost of the delivery, not of queueing.
				<-all
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
			nc.Close()
			<-readDone
			ln.Close()
			if nsrv != nil {
				nsrv.Close()
			}
			if h2srv != nil {
				h2srv.Close()
			}
			cancel()
			wg.Wait()
		})
	}
}
