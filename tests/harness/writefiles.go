package harness

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"

	"gopkg.in/yaml.v3"
)

// WrittenFile is one entry of a cloud-config's write_files, decoded.
type WrittenFile struct {
	Path        string
	Content     []byte
	Permissions uint32 // 0 when the entry sets none
	Owner       string // "" when the entry sets none
}

// WriteFiles parses a #cloud-config document and returns its write_files
// entries by path, with their content decoded (b64, gzip, gz+b64) exactly as
// cloud-init would write them. A path written twice is an error: cloud-init
// would silently keep the last one.
func WriteFiles(doc []byte) (map[string]WrittenFile, error) {
	var cc struct {
		WriteFiles []struct {
			Path        string `yaml:"path"`
			Content     string `yaml:"content"`
			Encoding    string `yaml:"encoding"`
			Permissions string `yaml:"permissions"`
			Owner       string `yaml:"owner"`
			Append      bool   `yaml:"append"`
		} `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(doc, &cc); err != nil {
		return nil, fmt.Errorf("rendered cloud-config is not YAML: %w", err)
	}
	files := make(map[string]WrittenFile, len(cc.WriteFiles))
	for i, wf := range cc.WriteFiles {
		if wf.Path == "" {
			return nil, fmt.Errorf("write_files[%d] has no path", i)
		}
		if _, dup := files[wf.Path]; dup && !wf.Append {
			return nil, fmt.Errorf("write_files writes %s twice", wf.Path)
		}
		content, err := decodeContent(wf.Content, wf.Encoding)
		if err != nil {
			return nil, fmt.Errorf("write_files %s: %w", wf.Path, err)
		}
		f := WrittenFile{Path: wf.Path, Content: content, Owner: wf.Owner}
		if wf.Permissions != "" {
			p, err := strconv.ParseUint(wf.Permissions, 8, 32)
			if err != nil {
				return nil, fmt.Errorf("write_files %s: permissions %q are not octal: %w", wf.Path, wf.Permissions, err)
			}
			f.Permissions = uint32(p)
		}
		if prev, ok := files[wf.Path]; ok && wf.Append {
			f.Content = append(prev.Content, f.Content...)
			if wf.Permissions == "" {
				f.Permissions = prev.Permissions
			}
			if wf.Owner == "" {
				f.Owner = prev.Owner
			}
		}
		files[wf.Path] = f
	}
	return files, nil
}

func decodeContent(content, encoding string) ([]byte, error) {
	switch encoding {
	case "", "text/plain":
		return []byte(content), nil
	case "b64", "base64":
		return base64.StdEncoding.DecodeString(content)
	case "gz", "gzip":
		return gunzip([]byte(content))
	case "gz+b64", "gz+base64", "gzip+b64", "gzip+base64":
		raw, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return nil, err
		}
		return gunzip(raw)
	default:
		return nil, fmt.Errorf("unknown encoding %q", encoding)
	}
}

func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
