package load

import (
	"net/http"
	"testing"
	"time"

	"github.com/subpub/subpub/wire"
)

func TestEventTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`id="42", type=Add, t=1763900000123`, 1763900000123, true},
		{`t=5`, 5, true},
		{`  t=5`, 5, true},
		{`t=5 `, 5, true},
		{"t=5\t", 5, true},
		{`t=-7`, -7, true},
		{`t=007`, 7, true},
		{`t=999999999999999`, 999999999999999, true},
		{`t=1000000000000000`, 0, false}, // 16 digits
		{`t=5;p=1;q`, 5, true},
		{`id="t=9", t=5`, 5, true},
		{`id="a\"t=9", t=5`, 5, true},
		{`t=1, t=2`, 2, true}, // the last one counts
		{`t=1, t`, 0, false},  // then a boolean
		{`t=1.5`, 0, false},
		{`t="5"`, 0, false},
		{`t=(1 2)`, 0, false},
		{`tt=5`, 0, false},
		{`at=5`, 0, false},
		{`type=Add`, 0, false},
		{``, 0, false},
		{`t=5,`, 0, false},
		{`t=5,,`, 0, false},
		{`,t=5`, 0, false},
		{`T=5`, 0, false},
		{`t=5 x`, 0, false},
		{`t=`, 0, false},
		{`t=-`, 0, false},
		{`x=(1 "a" tok :aGk=: ?1 @12 1.25);a=1, t=3`, 3, true},
		{`x=(1 2`, 0, false},
		{`x=(1  2 );a, t=3`, 3, true},
		{`x=(1 2) ;a, t=3`, 0, false},
		{`x=:aGk:, t=3`, 0, false}, // unpadded base64
		{`x=%"caf%c3%a9", t=3`, 3, true},
		{`x=%"caf%c3", t=3`, 0, false}, // not UTF-8
		{`x=%"caf%C3%A9", t=3`, 0, false},
		{`x=?2, t=3`, 0, false},
		{`x=@1.5, t=3`, 0, false},
		{"x=\"\x01\", t=3", 0, false},
		{`x=1.2345, t=3`, 0, false},
		{`x=1234567890123.4, t=3`, 0, false},
		{`x=123456789012.345, t=3`, 3, true},
	} {
		got, ok := eventTime(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("eventTime(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
		if gotB, okB := eventTime([]byte(c.in)); gotB != got || okB != ok {
			t.Errorf("eventTime([]byte(%q)) = %d, %v; the string gave %d, %v", c.in, gotB, okB, got, ok)
		}
	}
}

func TestEventTimeDoesNotAllocate(t *testing.T) {
	f, err := wire.EncodePUB(&wire.Event{ID: "42", Type: "Add", Time: time.UnixMilli(1763900000123), Data: []byte(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { eventTime(f.Event) }); n != 0 {
		t.Errorf("eventTime allocates %v times", n)
	}
}

// FuzzEventTime checks eventTime against wire.DecodePUB, the client's
// parser: wherever both accept a value they read the same time, and
// eventTime finds a time wherever DecodePUB does.
func FuzzEventTime(f *testing.F) {
	for _, e := range []wire.Event{
		{ID: "42", Type: "Add", Time: time.UnixMilli(1763900000123)},
		{ID: "t=1", Time: time.UnixMilli(0)},
		{Ref: "https://example.com/e/1", Time: time.UnixMilli(-5)},
		{Type: "x y"},
	} {
		p, err := wire.EncodePUB(&e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.Event)
	}
	f.Add(`x=(1 "a" tok :aGk=: ?1 @12 1.25);a=1, t=3`)
	f.Add(`x=%"caf%c3%a9", t=3;q=?0`)
	f.Add(`t=1, t=2`)
	f.Fuzz(func(t *testing.T, in string) {
		ms, ok := eventTime(in)
		e, err := wire.DecodePUB(http.Header{wire.FieldEvent: {in}})
		// year 1, which time.Time reads as no time at all
		zeroMS := time.Time{}.UnixMilli()
		switch {
		case err != nil:
		case ok && (e.Time.IsZero() && ms != zeroMS || !e.Time.IsZero() && e.Time.UnixMilli() != ms):
			t.Fatalf("eventTime(%q) = %d; DecodePUB's time is %v", in, ms, e.Time)
		case !ok && !e.Time.IsZero():
			t.Fatalf("eventTime(%q) found no time; DecodePUB's is %v", in, e.Time)
		}
	})
}
