package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

var strs = []string{
	"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>",
	"tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f", "héllo wörld 日本", "\u2028 and \u2029",
	"bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "emoji 🐳",
}

// Strings and string maps come out as encoding/json writes them.
func TestSameBytesAsEncodingJSON(t *testing.T) {
	for _, s := range strs {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
	m := map[string]string{}
	for i, s := range strs {
		m[s] = strs[len(strs)-1-i]
	}
	for _, m := range []map[string]string{nil, {}, m} {
		want, _ := json.Marshal(m)
		if got := AppendStringMap(nil, m); !bytes.Equal(got, want) {
			t.Errorf("AppendStringMap = %s, want %s", got, want)
		}
	}
}

type doc struct {
	S     string            `json:"s"`
	I     int64             `json:"i"`
	U     uint64            `json:"u"`
	B     bool              `json:"b"`
	R     json.RawMessage   `json:"r"`
	Bytes []byte            `json:"bytes"`
	T     time.Time         `json:"t"`
	M     map[string]string `json:"m"`
	Inner struct {
		X string `json:"x"`
	} `json:"inner"`
}

// An Object with every kind of member is what encoding/json writes for the
// same struct.
func TestObject(t *testing.T) {
	d := doc{S: strs[3], I: -42, U: 1 << 63, B: true, R: json.RawMessage(`{"a":[1,2,{"b":null}]}`),
		Bytes: []byte{0, 1, 2, 250}, T: time.Date(2026, 12, 3, 13, 0, 0, 123456789, time.UTC), M: map[string]string{"z": "1", "a": "2"}}
	d.Inner.X = "x"
	var o Object
	o.String("s", d.S)
	o.Int("i", d.I)
	o.Uint("u", d.U)
	o.Bool("b", d.B)
	o.Raw("r", d.R)
	o.Bytes("bytes", d.Bytes)
	if err := o.Time("t", d.T); err != nil {
		t.Fatal(err)
	}
	o.StringMap("m", d.M)
	o.Object("inner", func(in *Object) { in.String("x", d.Inner.X) })
	got := o.Done()
	want, _ := json.Marshal(d)
	if !bytes.Equal(got, want) {
		t.Errorf("Object:\n got %s\nwant %s", got, want)
	}
	var empty Object
	if got := empty.Done(); string(got) != "{}" {
		t.Errorf("empty object: %s", got)
	}
	var nils Object
	nils.Raw("r", nil)
	nils.Bytes("bytes", nil)
	if got, want := nils.Done(), `{"r":null,"bytes":null}`; string(got) != want {
		t.Errorf("nil raw and bytes: %s, want %s", got, want)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range strs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}
