package cloudconfig

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
)

// EncodeUserData turns a rendered document into the user data the server
// is created with: gzip, then base64. Hetzner's metadata service carries
// text only, so cloud-init's Hetzner datasource base64-decodes the user data
// it fetches; cloud-init then unpacks gzip before it reads the document. The
// document itself stays readable where people read it (the redacted preview,
// `nctalk render`); only the wire form is packed, which keeps the user data a
// third of the document's size, far below Hetzner's 32 KiB limit.
//
// The encoding is deterministic (no file name, no time stamp, a fixed
// compression level), so the same document always gives the same user data.
func EncodeUserData(doc []byte) string {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		panic(err) // only for an invalid level
	}
	// gzip.Writer's header is all zero (no name, no mtime) unless set.
	_, _ = zw.Write(doc) // a bytes.Buffer does not fail
	_ = zw.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}
