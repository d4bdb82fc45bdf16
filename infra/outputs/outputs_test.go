package outputs

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
)

// TestKeysMatchOutputsFields keeps schema.Outputs and the JSON
// tags of Outputs the same set, so an output the stack exports is one the
// companion commands decode.
func TestKeysMatchOutputsFields(t *testing.T) {
	var tags []string
	typ := reflect.TypeFor[Outputs]()
	for i := range typ.NumField() {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if tag != KeyTornDown { // no output of the stack: teardown leaves it
			tags = append(tags, tag)
		}
	}
	keys := schema.OutputNames()
	if !slices.Equal(slices.Sorted(slices.Values(tags)), slices.Sorted(slices.Values(keys))) {
		t.Errorf("Outputs JSON tags %v; schema.Outputs %v", tags, keys)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
		t.Errorf("schema.Outputs has duplicates: %v", keys)
	}
}

// TestOutputsDoNotPrintSecrets: a stray %v, %+v, %#v or %s of the decoded
// outputs (in an error, a log line) shows the secrets as [secret].
func TestOutputsDoNotPrintSecrets(t *testing.T) {
	o := Outputs{Domain: "talk.example.com", SignalingSecret: "sigSECRETmarker0123456789", TURNSecret: "turnSECRETmarker0123456789"}
	for _, s := range []string{fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprintf("%s", o),
		fmt.Sprintf("%v", &o), fmt.Sprint([]Outputs{o}), fmt.Errorf("wrapped: %v", o).Error()} {
		if strings.Contains(s, "SECRETmarker") {
			t.Errorf("formatted outputs show a secret: %s", s)
		}
		if !strings.Contains(s, "talk.example.com") {
			t.Errorf("formatted outputs lost the non-secret fields: %s", s)
		}
	}
}
