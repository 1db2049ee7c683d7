package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// same fails the test if got and want differ. Times compare with Equal
// (backends may change the location), nil and empty slices are the same,
// and JSON documents compare by value, not by spelling.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if diffs := diff("", reflect.ValueOf(got), reflect.ValueOf(want)); len(diffs) > 0 {
		t.Fatalf("%s differs:\n%s", what, joinLines(diffs))
	}
}

func joinLines(l []string) string {
	var b bytes.Buffer
	for _, s := range l {
		b.WriteString("\t" + s + "\n")
	}
	return b.String()
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func diff(path string, got, want reflect.Value) []string {
	if got.Type() != want.Type() {
		return []string{fmt.Sprintf("%s: type %s, want %s", path, got.Type(), want.Type())}
	}
	switch {
	case got.Type() == timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			return []string{fmt.Sprintf("%s: %s, want %s", path, g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano))}
		}
		return nil
	case got.Type() == rawType:
		g, w := got.Interface().(json.RawMessage), want.Interface().(json.RawMessage)
		if !sameJSON(g, w) {
			return []string{fmt.Sprintf("%s: %s, want %s", path, g, w)}
		}
		return nil
	}
	switch got.Kind() {
	case reflect.Struct:
		var out []string
		for i := range got.NumField() {
			if !got.Type().Field(i).IsExported() {
				continue
			}
			out = append(out, diff(path+"."+got.Type().Field(i).Name, got.Field(i), want.Field(i))...)
		}
		return out
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return []string{fmt.Sprintf("%s: %v, want %v", path, describe(got), describe(want))}
			}
			return nil
		}
		return diff(path, got.Elem(), want.Elem())
	case reflect.Slice:
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got.Interface(), want.Interface())}
		}
		var out []string
		for i := range got.Len() {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))...)
		}
		return out
	case reflect.Map:
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got.Interface(), want.Interface())}
		}
		var out []string
		for _, k := range want.MapKeys() {
			g := got.MapIndex(k)
			if !g.IsValid() {
				out = append(out, fmt.Sprintf("%s[%v]: missing", path, k))
				continue
			}
			out = append(out, diff(fmt.Sprintf("%s[%v]", path, k), g, want.MapIndex(k))...)
		}
		return out
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("%s: %#v, want %#v", path, got.Interface(), want.Interface())}
	}
	return nil
}

func describe(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return fmt.Sprint(v.Elem().Interface())
}

// sameJSON compares two documents by value; empty and null are the same.
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if len(bytes.TrimSpace(a)) > 0 {
		if err := json.Unmarshal(a, &va); err != nil {
			return false
		}
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &vb); err != nil {
			return false
		}
	}
	return reflect.DeepEqual(va, vb)
}
