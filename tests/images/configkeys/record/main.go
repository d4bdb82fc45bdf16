// Command record writes tests/images/configkeys/testdata: for each program
// version the tests run or pin, the config keys (or nginx directives and
// their contexts) that version accepts, taken from its own source at the
// release tag, or where the source of that release is not at hand, from
// the release's Debian build. It reads, never copies, upstream code.
//
//	go run ./tests/images/configkeys/record -mirror /work/.mirror -coturn-deb coturn_4.18.0-1_amd64.deb
//
// -mirror is a folder of bare git clones named <owner>+<repo>/repo (what
// the project's fetch tool writes): strukturag/nextcloud-spreed-signaling,
// nats-io/nats-server, meetecho/janus-gateway, nginx/nginx, nginx/pkg-oss.
// -coturn-deb is Debian's coturn package of the pinned release
// (apt-get download coturn from sid).
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nctalk/nctalk/tests/images/configkeys"
)

var (
	mirror    = flag.String("mirror", "/work/.mirror", "folder of bare git clones named <owner>+<repo>/repo")
	coturnDeb = flag.String("coturn-deb", "", "Debian's coturn .deb of the pinned release")
	out       = flag.String("out", "tests/images/configkeys/testdata", "where the JSON files go")
)

func main() {
	log.SetFlags(0)
	flag.Parse()
	now := time.Now().UTC().Format(time.RFC3339)
	var contracts []configkeys.Contract
	for _, v := range []string{"2.1.1", "2.0.2"} {
		contracts = append(contracts, signaling(v, false))
	}
	// The proxy: 2.1.1 is the image's, 2.0.2 the substitute's (sid).
	contracts = append(contracts, signaling("2.1.1", true), signaling("2.0.2", true))
	contracts = append(contracts, nats("2.14.5"), janus("1.4.1"), nginx("1.30.4"))
	if *coturnDeb != "" {
		contracts = append(contracts, coturn(*coturnDeb))
	} else {
		log.Print("no -coturn-deb: coturn's file is left as it is")
	}
	for _, c := range contracts {
		c.Recorded = now
		b, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			log.Fatal(err)
		}
		file := filepath.Join(*out, configkeys.FileName(c.Service, c.Version))
		if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("%s: %d sections/directives", file, len(c.Sections)+len(c.Directives))
	}
}

// repo is a bare clone in the mirror.
type repo struct{ name, dir string }

func gitRepo(name string) repo {
	dir := filepath.Join(*mirror, strings.Replace(name, "/", "+", 1), "repo")
	if _, err := os.Stat(dir); err != nil {
		log.Fatalf("%s is not in the mirror (%v): fetch github:%s", name, err, name)
	}
	return repo{name, dir}
}

func (r repo) git(args ...string) string {
	b, err := exec.Command("git", append([]string{"--git-dir", r.dir}, args...)...).Output()
	if err != nil {
		log.Fatalf("git %s in %s: %v", strings.Join(args, " "), r.name, err)
	}
	return string(b)
}

func (r repo) commit(ref string) string {
	return strings.TrimSpace(r.git("rev-parse", ref+"^{commit}"))
}
func (r repo) show(ref, path string) string {
	return r.git("show", ref+":"+path)
}
func (r repo) source(ref string, paths []string, how string) configkeys.Source {
	return configkeys.Source{Repo: "https://github.com/" + r.name, Ref: ref, Commit: r.commit(ref), Paths: paths, How: how}
}

func add(m map[string][]string, section, key string) {
	if !slices.Contains(m[section], key) {
		m[section] = append(m[section], key)
		sort.Strings(m[section])
	}
}

// signaling records server.conf.in's (proxy: proxy.conf.in's) sections and
// keys (set or commented out) and the keys the program's Go code reads
// with a literal section and key; a key only the code reads is recorded as
// deprecated (an undocumented fallback, e.g. 2.1.1's backend "url" beside
// "urls"). The proxy's [tokens] takes any key (a token id).
func signaling(version string, proxy bool) configkeys.Contract {
	r := gitRepo("strukturag/nextcloud-spreed-signaling")
	tag := "v" + version
	c := configkeys.Contract{Service: "signaling", Program: "nextcloud-spreed-signaling", Version: version, Grammar: configkeys.GrammarINI,
		Sections: map[string][]string{}, Deprecated: map[string][]string{},
		NamedSections: &configkeys.NamedSections{Section: "backend", Key: "backends", Template: "backend-id"}}
	conf := "server.conf.in"
	if proxy {
		c.Service, c.Program, c.NamedSections, conf = "proxy", "nextcloud-spreed-signaling proxy", nil, "proxy.conf.in"
	}
	sectionRe := regexp.MustCompile(`^#?\[([a-z0-9-]+)\]\s*$`)
	keyRe := regexp.MustCompile(`^#?([a-z_][a-z0-9_]*)\s*=`)
	section := ""
	for _, line := range strings.Split(r.show(tag, conf), "\n") {
		if m := sectionRe.FindStringSubmatch(line); m != nil {
			section = m[1]
			if _, ok := c.Sections[section]; !ok {
				c.Sections[section] = []string{}
			}
		} else if m := keyRe.FindStringSubmatch(line); m != nil && section != "" {
			add(c.Sections, section, m[1])
		}
	}
	if _, ok := c.Sections["backend-id"]; !ok && !proxy {
		log.Fatalf("signaling %s: server.conf.in has no [backend-id] example section", version)
	}
	if proxy {
		c.Sections["tokens"] = []string{configkeys.AnyKey}
	}
	// The code: Get*(…"section", "key") and the per-backend reads
	// Get*(…id, "key"), outside the proxy server and tests.
	files := strings.Fields(r.git("ls-tree", "-r", "--name-only", tag))
	readRe := regexp.MustCompile(`(?:GetStringOptionWithEnv\((?:cfg|config), |\.Get(?:String|Int|Bool)\()("[a-z0-9-]+"|id), "([a-z_]+)"\)`)
	var read []string
	for _, f := range files {
		// The server: its command and the shared packages; the proxy: its
		// command and package. Other commands (the benchmark client) are
		// neither's.
		isProxy := strings.HasPrefix(f, "proxy/") || strings.HasPrefix(f, "cmd/proxy/")
		ours := isProxy
		if !proxy {
			ours = !isProxy && !strings.HasPrefix(f, "client/") && (!strings.HasPrefix(f, "cmd/") || strings.HasPrefix(f, "cmd/server/"))
		}
		if !ours || !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "vendor/") || strings.Contains(f, "/test") {
			continue
		}
		src := r.show(tag, f)
		if !strings.Contains(src, "goconf") && !strings.Contains(src, "config.Get") {
			continue
		}
		for _, m := range readRe.FindAllStringSubmatch(src, -1) {
			sec := strings.Trim(m[1], `"`)
			if sec == "id" && !proxy {
				sec = "backend-id"
			}
			if _, ok := c.Sections[sec]; !ok {
				continue // a section of another program (the proxy's) in shared code
			}
			if !slices.Contains(c.Sections[sec], m[2]) && !slices.Contains(c.Sections[sec], configkeys.AnyKey) {
				add(c.Sections, sec, m[2])
				add(c.Deprecated, sec, m[2])
			}
			read = append(read, f)
		}
	}
	slices.Sort(read)
	c.Sources = []configkeys.Source{
		r.source(tag, []string{conf}, "every [section] and every key line, set or commented out (#key = …)"),
		r.source(tag, slices.Compact(read), "keys the program reads with a literal section (or a backend id) that "+conf+" does not document: recorded as deprecated"),
	}
	return c
}

// nats records the top-level keys processConfigFileLine accepts (the
// cases of its switch); every other top-level key is an error in
// nats-server.
func nats(version string) configkeys.Contract {
	r := gitRepo("nats-io/nats-server")
	tag := "v" + version
	src := r.show(tag, "server/opts.go")
	start := strings.Index(src, "func (o *Options) processConfigFileLine(")
	end := strings.Index(src[start:], "\n}\n")
	if start < 0 || end < 0 {
		log.Fatalf("nats %s: no processConfigFileLine in server/opts.go", version)
	}
	body := src[start : start+end]
	c := configkeys.Contract{Service: "nats", Program: "nats-server", Version: version, Grammar: configkeys.GrammarNATS,
		Sections: map[string][]string{"": {}}}
	caseRe := regexp.MustCompile(`(?m)^\tcase ((?:"[a-z_0-9]+"(?:, )?)+):`)
	for _, m := range caseRe.FindAllStringSubmatch(body, -1) {
		for _, k := range strings.Split(m[1], ", ") {
			add(c.Sections, "", strings.Trim(k, `"`))
		}
	}
	c.Sources = []configkeys.Source{r.source(tag, []string{"server/opts.go"},
		"the cases of processConfigFileLine's switch on the top-level key (lower-cased); its default case makes any other key an error")}
	return c
}

// janus records, per config file, the sections and keys (set or
// commented out) of Janus' sample configs.
func janus(version string) configkeys.Contract {
	r := gitRepo("meetecho/janus-gateway")
	tag := "v" + version
	files := map[string]string{
		"janus.jcfg":                      "conf/janus.jcfg.sample.in",
		"janus.plugin.videoroom.jcfg":     "conf/janus.plugin.videoroom.jcfg.sample",
		"janus.transport.websockets.jcfg": "conf/janus.transport.websockets.jcfg.sample",
	}
	c := configkeys.Contract{Service: "janus", Program: "janus", Version: version, Grammar: configkeys.GrammarJanus,
		Sections: map[string][]string{}}
	sectionRe := regexp.MustCompile(`^#?([a-z][a-z0-9_-]*): \{`)
	keyRe := regexp.MustCompile(`^\t#?([a-z_][a-z0-9_]*)\s*=`)
	var paths []string
	for _, name := range []string{"janus.jcfg", "janus.plugin.videoroom.jcfg", "janus.transport.websockets.jcfg"} {
		paths = append(paths, files[name])
		section := ""
		for _, line := range strings.Split(r.show(tag, files[name]), "\n") {
			if m := sectionRe.FindStringSubmatch(line); m != nil {
				section = name + "/" + m[1]
				if _, ok := c.Sections[section]; !ok {
					c.Sections[section] = []string{}
				}
			} else if m := keyRe.FindStringSubmatch(line); m != nil && section != "" {
				add(c.Sections, section, m[1])
			}
		}
	}
	c.Sources = []configkeys.Source{r.source(tag, paths, "every section (name: {) and every key line of it, set or commented out (#key = …), per file")}
	return c
}

// nginxExcluded are the modules whose sources the official image does not
// build: auto/options defaults them to NO and pkg-oss' configure arguments
// do not enable them (or they are for other systems).
var nginxExcluded = []string{
	"src/http/modules/ngx_http_xslt_filter_module.c", "src/http/modules/ngx_http_image_filter_module.c",
	"src/http/modules/ngx_http_geoip_module.c", "src/http/modules/perl/ngx_http_perl_module.c",
	"src/http/modules/ngx_http_degradation_module.c", "src/stream/ngx_stream_geoip_module.c",
	"src/misc/ngx_google_perftools_module.c", "src/event/modules/ngx_devpoll_module.c",
	"src/event/modules/ngx_eventport_module.c", "src/event/modules/ngx_kqueue_module.c",
	"src/event/modules/ngx_iocp_module.c", "src/event/modules/ngx_win32_poll_module.c",
	"src/event/modules/ngx_win32_select_module.c",
}

// nginxContexts maps a command's type flag to the context it allows.
var nginxContexts = map[string]string{
	"NGX_MAIN_CONF": "main", "NGX_EVENT_CONF": "events", "NGX_ANY_CONF": "any",
	"NGX_HTTP_MAIN_CONF": "http", "NGX_HTTP_SRV_CONF": "http/server", "NGX_HTTP_LOC_CONF": "http/location",
	"NGX_HTTP_UPS_CONF": "http/upstream", "NGX_HTTP_SIF_CONF": "http/server/if", "NGX_HTTP_LIF_CONF": "http/location/if",
	"NGX_HTTP_LMT_CONF":    "http/limit_except",
	"NGX_STREAM_MAIN_CONF": "stream", "NGX_STREAM_SRV_CONF": "stream/server", "NGX_STREAM_UPS_CONF": "stream/upstream",
	"NGX_MAIL_MAIN_CONF": "mail", "NGX_MAIL_SRV_CONF": "mail/server",
}

// nginx records every directive of the modules the official image builds,
// with the contexts its command type allows.
func nginx(version string) configkeys.Contract {
	r := gitRepo("nginx/nginx")
	pkg := gitRepo("nginx/pkg-oss")
	tag := "release-" + version
	mk := pkg.show("HEAD", "alpine/Makefile")
	for _, want := range []string{"--with-stream \\", "--with-stream_ssl_preread_module", "--with-http_realip_module", "--with-http_ssl_module"} {
		if !strings.Contains(mk, want) {
			log.Fatalf("nginx/pkg-oss alpine/Makefile no longer configures %s", want)
		}
	}
	c := configkeys.Contract{Service: "nginx", Program: "nginx", Version: version, Grammar: configkeys.GrammarNginx,
		Directives: map[string][]string{}}
	cmdRe := regexp.MustCompile(`\{\s*ngx_string\("([a-z0-9_]+)"\),\s*([A-Z0-9_|\s]+),`)
	var read []string
	for _, f := range strings.Fields(r.git("ls-tree", "-r", "--name-only", tag, "src")) {
		if !strings.HasSuffix(f, ".c") || slices.Contains(nginxExcluded, f) {
			continue
		}
		src := r.show(tag, f)
		ms := cmdRe.FindAllStringSubmatch(src, -1)
		if len(ms) > 0 {
			read = append(read, f)
		}
		for _, m := range ms {
			for _, flag := range strings.Split(m[2], "|") {
				if ctx, ok := nginxContexts[strings.TrimSpace(flag)]; ok {
					add(c.Directives, m[1], ctx)
				}
			}
		}
	}
	c.Sources = []configkeys.Source{
		r.source(tag, read, "every ngx_command_t of the modules built (name and the contexts of its type flags); not built: "+strings.Join(nginxExcluded, ", ")),
		pkg.source("HEAD", []string{"alpine/Makefile"}, "BASE_CONFIGURE_ARGS of the nginx.org Alpine packages the official image installs: --with-stream, --with-stream_ssl_preread_module, --with-http_realip_module, --with-http_ssl_module, …"),
	}
	return c
}

// coturn records turnserver's long_options table from the release's
// Debian build: coturn's source at the pinned tag is not in the mirror.
// Options whose usage line or warning says "deprecated" are recorded as
// deprecated.
func coturn(deb string) configkeys.Contract {
	raw, err := os.ReadFile(deb)
	if err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	ver := regexp.MustCompile(`coturn_([0-9.]+)-[^_]+_`).FindStringSubmatch(filepath.Base(deb))
	if ver == nil {
		log.Fatalf("%s is not named coturn_<version>-<rev>_<arch>.deb", deb)
	}
	bin := debFile(deb, "./usr/bin/turnserver")
	names := longOptions(bin)
	c := configkeys.Contract{Service: "coturn", Program: "coturn", Version: ver[1], Grammar: configkeys.GrammarCoturn,
		Sections: map[string][]string{"": {}}, Deprecated: map[string][]string{}}
	strs := printable(bin)
	for _, n := range names {
		add(c.Sections, "", n)
		usage := regexp.MustCompile(`(?m)^\s*(?:-[A-Za-z], )?--` + regexp.QuoteMeta(n) + `\s[^\n]*(?:DEPRECATED|Deprecated in favor)`)
		warn := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(n) + ` option is deprecated`)
		if usage.MatchString(strs) || warn.MatchString(strs) {
			add(c.Deprecated, "", n)
		}
	}
	c.Sources = []configkeys.Source{{Repo: "https://deb.debian.org/debian coturn (sid)", Ref: strings.TrimSuffix(filepath.Base(deb), ".deb"),
		Commit: "sha256:" + hex.EncodeToString(sum[:]), Paths: []string{"/usr/bin/turnserver"},
		How: "the long_options table (struct myoption {name, has_arg, flag, val}) read from the binary's relocated .data.rel.ro; " +
			"deprecated: options whose --help line or warning says so. coturn's git tag " + ver[1] + " is not in the mirror; Debian builds this package from that release's tarball"}}
	return c
}

// debFile returns one file of a .deb.
func debFile(deb, name string) []byte {
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	tarball, err := cmd.Output()
	if err != nil {
		log.Fatalf("dpkg-deb --fsys-tarfile %s: %v", deb, err)
	}
	tr := tar.NewReader(bytes.NewReader(tarball))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			log.Fatalf("%s has no %s", deb, name)
		}
		if err != nil {
			log.Fatal(err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				log.Fatal(err)
			}
			return b
		}
	}
}

// longOptions finds coturn's long_options[]: the longest run of 32-byte
// structs whose first word is a relocated pointer to an option name, the
// run that starts with "listening-device".
func longOptions(bin []byte) (names []string) {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		log.Fatal(err)
	}
	rela := f.Section(".rela.dyn")
	data, err := rela.Data()
	if err != nil {
		log.Fatal(err)
	}
	target := map[uint64]uint64{} // relocated address -> addend
	for i := 0; i+24 <= len(data); i += 24 {
		off := binary.LittleEndian.Uint64(data[i:])
		info := binary.LittleEndian.Uint64(data[i+8:])
		if uint32(info) == uint32(elf.R_X86_64_RELATIVE) {
			target[off] = binary.LittleEndian.Uint64(data[i+16:])
		}
	}
	cstring := func(addr uint64) (string, bool) {
		for _, s := range f.Sections {
			if s.Type == elf.SHT_PROGBITS && addr >= s.Addr && addr < s.Addr+s.Size {
				b, _ := s.Data()
				b = b[addr-s.Addr:]
				if n := bytes.IndexByte(b, 0); n > 0 {
					return string(b[:n]), true
				}
			}
		}
		return "", false
	}
	option := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	for addr, str := range target {
		if s, ok := cstring(str); !ok || s != "listening-device" {
			continue
		}
		var run []string
		for a := addr; ; a += 32 {
			p, ok := target[a]
			if !ok {
				break
			}
			s, ok := cstring(p)
			if !ok || !option.MatchString(s) {
				break
			}
			run = append(run, s)
		}
		if len(run) > len(names) {
			names = run
		}
	}
	if len(names) < 50 {
		log.Fatalf("turnserver: found no long_options table (%d entries)", len(names))
	}
	return names
}

// printable returns the binary's printable strings, one a line, as
// strings(1) would.
func printable(bin []byte) string {
	var b strings.Builder
	start := -1
	for i, c := range bin {
		if c >= 0x20 && c < 0x7f || c == '\t' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= 4 {
			b.Write(bin[start:i])
			b.WriteByte('\n')
		}
		start = -1
	}
	return b.String()
}
