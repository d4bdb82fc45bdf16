package cloudconfig

import (
	"testing"

	"github.com/nctalk/nctalk/schema"
)

// TestImagesKeyCoversEveryService: the images key's grammar admits one
// override per service (schema.ImageServices), so it must count the
// services DefaultImages pins.
func TestImagesKeyCoversEveryService(t *testing.T) {
	g := schema.MustGrammar(schema.KeyImages)
	if g.MaxEntries != len(DefaultImages) || schema.ImageServices != len(DefaultImages) {
		t.Errorf("images admits %d entries (schema.ImageServices %d); DefaultImages pins %d services", g.MaxEntries, schema.ImageServices, len(DefaultImages))
	}
}
