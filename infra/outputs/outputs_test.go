package outputs

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestKeysMatchOutputsFields keeps Keys, the Key constants and the JSON
// tags of Outputs the same set, so an output the stack exports is one the
// companion commands decode.
func TestKeysMatchOutputsFields(t *testing.T) {
	var tags []string
	typ := reflect.TypeFor[Outputs]()
	for i := range typ.NumField() {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		tags = append(tags, tag)
	}
	keys := Keys()
	if !slices.Equal(slices.Sorted(slices.Values(tags)), slices.Sorted(slices.Values(keys))) {
		t.Errorf("Outputs JSON tags %v; Keys %v", tags, keys)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
		t.Errorf("Keys has duplicates: %v", keys)
	}
}
