package fuzzcheck

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"husk/internal/jsondec"
)

// DecodeLikeJSON checks jsondec against encoding/json on data decoded into
// a T: when the fast path succeeds, encoding/json must too, with the same
// result; the fast path may only fail with jsondec.ErrFallback; and
// jsondec.Decode must give exactly encoding/json's result and error. It
// tells whether the fast path took data.
func DecodeLikeJSON[T any](t *testing.T, data []byte) bool {
	t.Helper()
	var fast, std, dec T
	errFast := jsondec.Unmarshal(data, &fast)
	errStd := json.Unmarshal(data, &std)
	if errFast == nil {
		if errStd != nil {
			t.Fatalf("fast path accepted %q, encoding/json says: %v", data, errStd)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("fast path decoded %q\nas    %#v\nnot   %#v", data, fast, std)
		}
	} else if !errors.Is(errFast, jsondec.ErrFallback) {
		t.Fatalf("fast path failed on %q with %v, not ErrFallback", data, errFast)
	}
	errDec := jsondec.Decode(data, &dec)
	if errString(errDec) != errString(errStd) {
		t.Fatalf("Decode(%q) error %q, encoding/json's %q", data, errString(errDec), errString(errStd))
	}
	if !reflect.DeepEqual(dec, std) {
		t.Fatalf("Decode(%q)\ngave %#v\nnot  %#v", data, dec, std)
	}
	return errFast == nil
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// FastPathTypes walks every type reachable from roots (husk's decoded
// documents) and fails for those jsondec leaves to encoding/json, such as
// types with an UnmarshalJSON or UnmarshalText of their own: a dependency
// bump adding one must not go unnoticed (the documents would silently
// take the slow path).
func FastPathTypes(t *testing.T, roots ...reflect.Type) {
	t.Helper()
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		if !jsondec.Handles(typ) {
			t.Errorf("%s (%s) is left to encoding/json", path, typ)
		}
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(typ.Elem(), path+"[]")
		case reflect.Map:
			walk(typ.Key(), path+"{key}")
			walk(typ.Elem(), path+"{}")
		case reflect.Struct:
			for i := range typ.NumField() {
				if f := typ.Field(i); f.IsExported() || f.Anonymous {
					walk(f.Type, path+"."+f.Name)
				}
			}
		}
	}
	for _, root := range roots {
		walk(root, root.Name())
	}
}
