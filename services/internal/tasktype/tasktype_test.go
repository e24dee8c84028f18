package tasktype

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestBuiltinTypesRunAndValidate(t *testing.T) {
	r := Builtin()
	twice := sha256.Sum256([]byte("abc"))
	twice = sha256.Sum256(twice[:])
	for _, tc := range []struct {
		typ, payload string
		want         string // result, when no error is wanted
		invalid      string // substring of the Validate error
		runErr       error
	}{
		{typ: "echo", payload: "hello", want: "hello"},
		{typ: "sleep", payload: "10ms", want: "slept 10ms"},
		{typ: "sleep", payload: "soon", invalid: "not a duration"},
		{typ: "sleep", payload: "1h", invalid: "outside"},
		{typ: "sleep", payload: "101s", invalid: "outside"},
		{typ: "fail", payload: "boom", runErr: ErrFail},
		{typ: "hash", payload: "2:abc", want: hex.EncodeToString(twice[:])},
		{typ: "hash", payload: "x", invalid: "N rounds"},
		{typ: "hash", payload: "0", invalid: "N rounds"},
	} {
		typ, err := r.Lookup(tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		err = typ.Validate([]byte(tc.payload))
		if tc.invalid != "" {
			if err == nil || !strings.Contains(err.Error(), tc.invalid) {
				t.Errorf("%s %q: Validate = %v, want error containing %q", tc.typ, tc.payload, err, tc.invalid)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: Validate = %v", tc.typ, tc.payload, err)
		}
		got, err := typ.Run(context.Background(), Input{TaskID: "t-test", Attempt: 1, Payload: []byte(tc.payload)})
		if tc.runErr != nil {
			if !errors.Is(err, tc.runErr) {
				t.Errorf("%s %q: Run error %v, want %v", tc.typ, tc.payload, err, tc.runErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s %q: Run = %q, %v; want %q", tc.typ, tc.payload, got, err, tc.want)
		}
	}
}

func TestUnknownTypeListsKnownOnes(t *testing.T) {
	_, err := Builtin().Lookup("print")
	if err == nil || !strings.Contains(err.Error(), "echo, fail, hash, sleep") {
		t.Fatalf("Lookup(print) = %v, want an error listing the known types", err)
	}
}

func TestSleepStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Builtin()["sleep"].Run(ctx, Input{Payload: []byte("90s")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run on a cancelled context = %v, want context.Canceled", err)
	}
}
