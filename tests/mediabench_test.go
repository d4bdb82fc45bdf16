package tests

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/tests/harness"
	"github.com/nctalk/nctalk/tests/images"
)

// Synthetic media of the forwarding benchmark: one video track (VP8
// payloads of random bytes at mediaVideoBitrate, mediaVideoFPS frames a
// second) and one audio track (Opus payloads, 20 ms, mediaAudioBytes each:
// 48 kbit/s) per publisher. Janus forwards RTP without decoding it.
const (
	mediaVideoBitrate = 500_000
	mediaVideoFPS     = 30
	mediaAudioBytes   = 120
)

// mediaPoint is one measured load: publishers, each with subscribers.
type mediaPoint struct{ publishers, subscribers int }

// BenchmarkMediaServerForwarding measures one media server (a signaling
// proxy in front of its own Janus, in a network namespace, as
// TestMediaOnProxies runs them) forwarding real media: P publishers and
// S subscribers per publisher, pion clients in the signaling server's
// namespace that negotiate through signaling ([mcu] type = proxy) and
// complete ICE and DTLS with Janus over the veth link. Each publisher
// sends a synthetic VP8 track at 500 kbit/s and an Opus track at
// 48 kbit/s. Once every subscriber receives both tracks, it samples the
// CPU time (utime+stime of the process tree, /proc) of Janus and of the
// proxy over a steady window (NCTALK_MEDIA_WINDOW, default 20s) and the
// RTP packets and bytes the subscribers received in it.
//
// Reported per point: janus-cpu-% and proxy-cpu-% (of one core),
// clients-cpu-% (this process: the pion clients share the machine), fwd-streams (tracks forwarded: P × S × 2), fwd-pkts/s, fwd-Mbit/s, and
// streams/core (forwarded streams per Janus core at the measured share).
// NCTALK_MEDIA_POINTS overrides the points ("1x3,2x5,4x7"). Not a CI
// test: run it with -run '^$' -bench MediaServerForwarding (docs/testing.md).
func BenchmarkMediaServerForwarding(b *testing.B) {
	s := needStack(b)
	needNetnsRoot(b)
	window := 20 * time.Second
	if v := os.Getenv("NCTALK_MEDIA_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("NCTALK_MEDIA_WINDOW: %v", err)
		}
		window = d
	}
	points := []mediaPoint{{1, 3}, {2, 5}, {4, 7}}
	if v := os.Getenv("NCTALK_MEDIA_POINTS"); v != "" {
		points = nil
		for _, p := range strings.Split(v, ",") {
			ps, ss, ok := strings.Cut(strings.TrimSpace(p), "x")
			np, err1 := strconv.Atoi(ps)
			ns, err2 := strconv.Atoi(ss)
			if !ok || err1 != nil || err2 != nil || np < 1 || ns < 0 {
				b.Fatalf("NCTALK_MEDIA_POINTS: %q is not PxS", p)
			}
			points = append(points, mediaPoint{np, ns})
		}
	}

	env := startMediaBench(b, s)
	for _, p := range points {
		b.Run(fmt.Sprintf("P%dxS%d", p.publishers, p.subscribers), func(b *testing.B) {
			for b.Loop() {
				env.measure(b, p, window)
			}
		})
	}
}

// mediaBench is the benchmark's signaling server and its one media server.
type mediaBench struct {
	s         *harness.Stack
	sig       string
	sigClient *http.Client
	// clientIP is the signaling namespace's address on the link to the
	// media server: the clients' ICE candidates.
	clientIP net.IP
	media    *mediaServer
	janus    *nsContainer
	room     string
	users    atomic.Int64
}

// startMediaBench starts NATS and signaling in a namespace of their own
// with one media server (proxy and Janus, each in the media server's
// namespace), rendered as TestMediaOnProxies renders them. Signaling's
// [app] gets allowsubscribeany = true: the fake Nextcloud sends no
// "in call" flags, which Talk clients get from Nextcloud before they
// subscribe; the media path is the same.
func startMediaBench(b *testing.B, s *harness.Stack) *mediaBench {
	token := newProxyToken(b)
	sig := newNetns(b, "bsig")
	m := &mediaServer{name: "media-bench", ns: newNetns(b, "bm"), proxyAddr: "192.0.2.2"}
	link(b, sig, m.ns, "mb0", m.proxyAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	files := mediaServerFiles(b, s, m, token)
	janusDir := configDir(b, files, cloudconfig.JanusConfigFile, cloudconfig.JanusVideoRoomConfig, cloudconfig.JanusWebsocketsConfig)
	spec, err := harness.ContainerSpec(files, cloudconfig.ServiceJanus)
	if err != nil {
		b.Fatal(err)
	}
	spec.Binds = append(spec.Binds, images.Bind{Source: janusDir, Target: cloudconfig.JanusConfigDir, ReadOnly: true})
	janus := runInNetns(b, m.ns, spec)
	m.janus = janus.logs
	m.proxy = startProxy(b, m, files)

	forwardNextcloud(b, sig, s.Nextcloud.URL)
	natsDir := configDir(b, s.Files, cloudconfig.NATSConfig)
	startContainerInNetns(b, sig, s.Files, cloudconfig.ServiceNATS, natsDir, filepath.Dir(cloudconfig.NATSConfig))
	sigDir := configDir(b, nil)
	sigFiles := writeSignalingDir(b, s, sigDir, mediaServers(m), token, cloudconfig.GeoIP{})
	conf := filepath.Join(sigDir, filepath.Base(cloudconfig.SignalingConfig))
	content, err := os.ReadFile(conf)
	if err != nil {
		b.Fatal(err)
	}
	patched := strings.Replace(string(content), "[app]\n", "[app]\nallowsubscribeany = true\n", 1)
	if patched == string(content) {
		b.Fatalf("signaling's config has no [app] section")
	}
	if err := os.WriteFile(conf, []byte(patched), 0); err != nil { // keeps mode and owner
		b.Fatal(err)
	}
	signaling := startSignaling(b, s, sig, sigFiles, sigDir)
	b.Cleanup(func() {
		if b.Failed() {
			b.Logf("----- signaling log (tail) -----\n%s", tailLines(signaling.logs.String(), 40))
			b.Logf("----- proxy log (tail) -----\n%s", tailLines(m.proxy.logs.String(), 40))
			b.Logf("----- Janus log (tail) -----\n%s", tailLines(m.janus.String(), 40))
		}
	})
	env := &mediaBench{s: s, sig: sig, sigClient: nsHTTPClient(sig), clientIP: net.IPv4(192, 0, 2, 1), media: m, janus: janus, room: "bench-room"}
	if err := pollFor(ctx, 45*time.Second, func() error {
		st, err := proxyStats(ctx, env.sigClient)
		if err != nil {
			return err
		}
		if p := st.of(m); p == nil || !p.Connected || p.Load == nil {
			return fmt.Errorf("proxy %s not connected: %v", m.name, p)
		}
		return nil
	}); err != nil {
		b.Fatalf("signaling does not connect to the media server's proxy: %v", err)
	}
	return env
}

// measure runs one point: it connects the publishers and subscribers,
// waits until media flows to every subscriber, samples over window and
// reports the figures; every client leaves before it returns.
func (e *mediaBench) measure(b *testing.B, p mediaPoint, window time.Duration) {
	b.StopTimer()
	defer b.StartTimer() // b.Loop wants it running; only the window is timed
	ctx, cancel := context.WithTimeout(context.Background(), window+3*time.Minute)
	defer cancel()
	var peers []*benchPeer
	defer func() {
		for _, c := range peers {
			c.close()
		}
		time.Sleep(2 * time.Second) // Janus and the proxy tear the handles down
	}()
	var subs []*benchPeer
	for range p.publishers {
		pub, err := e.newPeer(ctx)
		if err != nil {
			b.Fatal(err)
		}
		peers = append(peers, pub)
		if err := pub.publish(ctx); err != nil {
			b.Fatalf("publisher %s: %v", pub.user, err)
		}
		for range p.subscribers {
			sub, err := e.newPeer(ctx)
			if err != nil {
				b.Fatal(err)
			}
			peers = append(peers, sub)
			if err := sub.subscribe(ctx, pub.conn.Hello.SessionID); err != nil {
				b.Fatalf("subscriber %s of %s: %v", sub.user, pub.user, err)
			}
			subs = append(subs, sub)
		}
	}
	if err := pollFor(ctx, 30*time.Second, func() error {
		for _, s := range subs {
			if n := s.tracksReceiving(); n < 2 {
				return fmt.Errorf("subscriber %s receives %d of 2 tracks (ICE %s)", s.user, n, s.pc.ICEConnectionState())
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(5 * time.Second) // settle: PLIs, the first NACKs, the proxies' load reports

	janus0, err := procTreeCPU(e.janus.PID())
	if err != nil {
		b.Fatal(err)
	}
	proxy0, err := procTreeCPU(e.media.proxy.PID())
	if err != nil {
		b.Fatal(err)
	}
	clients0 := selfCPU()
	pkts0, bytes0 := received(subs)
	start := time.Now()
	b.StartTimer()
	time.Sleep(window)
	b.StopTimer()
	elapsed := time.Since(start)
	janus1, err := procTreeCPU(e.janus.PID())
	if err != nil {
		b.Fatal(err)
	}
	proxy1, err := procTreeCPU(e.media.proxy.PID())
	if err != nil {
		b.Fatal(err)
	}
	clients1 := selfCPU()
	pkts1, bytes1 := received(subs)
	rtpPorts := e.janusUDPPorts(b)
	for _, s := range subs {
		if s.pc.ICEConnectionState() != webrtc.ICEConnectionStateConnected && s.pc.ICEConnectionState() != webrtc.ICEConnectionStateCompleted {
			b.Errorf("subscriber %s: ICE %s at the end of the window", s.user, s.pc.ICEConnectionState())
		}
	}
	secs := elapsed.Seconds()
	janusShare := (janus1 - janus0).Seconds() / secs
	proxyShare := (proxy1 - proxy0).Seconds() / secs
	// The test process: the pion clients (and the stack's helpers, idle).
	clientsShare := (clients1 - clients0).Seconds() / secs
	streams := float64(p.publishers * p.subscribers * 2)
	b.ReportMetric(100*janusShare, "janus-cpu-%")
	b.ReportMetric(100*proxyShare, "proxy-cpu-%")
	b.ReportMetric(100*clientsShare, "clients-cpu-%")
	b.ReportMetric(streams, "fwd-streams")
	b.ReportMetric(float64(pkts1-pkts0)/secs, "fwd-pkts/s")
	b.ReportMetric(float64(bytes1-bytes0)*8/secs/1e6, "fwd-Mbit/s")
	if janusShare > 0 {
		b.ReportMetric(streams/janusShare, "streams/core")
	}
	b.Logf("P%d×S%d: Janus %.1f %% of a core, proxy %.2f %%, pion clients %.1f %%, %d subscribers, %d UDP ports of Janus' RTP range bound, %.0f RTP packets/s, %.2f Mbit/s received in %v; %d CPUs (%s), load %s",
		p.publishers, p.subscribers, 100*janusShare, 100*proxyShare, 100*clientsShare, len(subs), rtpPorts, float64(pkts1-pkts0)/secs,
		float64(bytes1-bytes0)*8/secs/1e6, elapsed.Round(time.Millisecond), runtime.NumCPU(), cpuModel(), loadAverage())
}

// janusUDPPorts counts the UDP sockets bound in the media server's
// namespace on a port of Janus' RTP range (janusRtpPorts): the range
// bounds how many peer connections one Janus holds.
func (e *mediaBench) janusUDPPorts(b *testing.B) int {
	r := e.s.JanusRTPPorts()
	n := 0
	for _, line := range strings.Split(mustRun(b, "ip", "netns", "exec", e.media.ns, "ss", "-Huan"), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		i := strings.LastIndexByte(f[3], ':')
		if port, err := strconv.Atoi(f[3][i+1:]); err == nil && port >= r.First && port <= r.Last {
			n++
		}
	}
	return n
}

// received sums the RTP packets and payload bytes the subscribers got.
func received(subs []*benchPeer) (pkts, bytes int64) {
	for _, s := range subs {
		pkts += s.pkts.Load()
		bytes += s.bytes.Load()
	}
	return pkts, bytes
}

// benchPeer is a Talk client of the benchmark: its signaling connection
// and one pion peer connection whose ICE runs over a UDP socket in the
// signaling namespace, on the link's address.
type benchPeer struct {
	user string
	conn *harness.SignalingConn
	pc   *webrtc.PeerConnection
	sock net.PacketConn
	stop chan struct{}
	once sync.Once

	// answer or offer from the MCU, by the reader.
	sdp chan mcuSDP
	// pkts and bytes are the RTP packets and bytes received (subscriber).
	pkts, bytes atomic.Int64
	mu          sync.Mutex
	tracks      map[string]int64
}

// newPeer says hello as a new user, joins the room and makes the peer
// connection.
func (e *mediaBench) newPeer(ctx context.Context) (*benchPeer, error) {
	user := fmt.Sprintf("bench%d", e.users.Add(1))
	var sock net.PacketConn
	if err := inNetns(e.sig, func() (err error) {
		sock, err = net.ListenUDP("udp4", &net.UDPAddr{IP: e.clientIP})
		return err
	}); err != nil {
		return nil, err
	}
	quiet := &logging.DefaultLoggerFactory{DefaultLogLevel: logging.LogLevelDisabled} // closed sockets at the end
	se := webrtc.SettingEngine{LoggerFactory: quiet}
	se.SetICEUDPMux(webrtc.NewICEUDPMux(quiet.NewLogger("udpmux"), sock))
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		sock.Close()
		return nil, err
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		sock.Close()
		return nil, err
	}
	p := &benchPeer{user: user, pc: pc, sock: sock, stop: make(chan struct{}), sdp: make(chan mcuSDP, 1), tracks: map[string]int64{}}
	conn, err := harness.DialSignaling(ctx, fmt.Sprintf("ws://127.0.0.1:%d/spreed", schema.PortSignalingHTTP), e.sigClient)
	if err != nil {
		p.close()
		return nil, err
	}
	p.conn = conn
	if err := conn.HelloClient(ctx, e.s.Nextcloud.BackendURL(), map[string]any{"userid": user}); err != nil {
		p.close()
		return nil, err
	}
	if err := conn.Send(ctx, map[string]any{"id": "join-" + user, "type": "room", "room": map[string]any{"roomid": e.room, "sessionid": "nc-" + user}}); err != nil {
		p.close()
		return nil, err
	}
	if _, err := conn.ReadType(ctx, "room"); err != nil {
		p.close()
		return nil, fmt.Errorf("join %s: %w", e.room, err)
	}
	go p.read()
	return p, nil
}

// read handles the MCU's messages: the answer or offer, and Janus'
// trickled candidates.
func (p *benchPeer) read() {
	for {
		m, err := p.conn.Read(context.Background())
		if err != nil {
			return
		}
		if m.Type != "message" {
			continue
		}
		var msg struct {
			Message struct {
				Data struct {
					Type    string          `json:"type"`
					Sid     string          `json:"sid"`
					Payload json.RawMessage `json:"payload"`
				} `json:"data"`
			} `json:"message"`
		}
		if json.Unmarshal(m.Raw, &msg) != nil {
			continue
		}
		d := msg.Message.Data
		switch d.Type {
		case "answer", "offer":
			var sd struct {
				SDP string `json:"sdp"`
			}
			if json.Unmarshal(d.Payload, &sd) == nil {
				typ := webrtc.SDPTypeAnswer
				if d.Type == "offer" {
					typ = webrtc.SDPTypeOffer
				}
				select {
				case p.sdp <- mcuSDP{webrtc.SessionDescription{Type: typ, SDP: sd.SDP}, d.Sid}:
				default:
				}
			}
		case "candidate":
			var c struct {
				Candidate webrtc.ICECandidateInit `json:"candidate"`
			}
			if json.Unmarshal(d.Payload, &c) == nil && c.Candidate.Candidate != "" {
				// The candidates may come before the remote description
				// is set: pion refuses them then, so retry briefly.
				go func() {
					for range 50 {
						if p.pc.AddICECandidate(c.Candidate) == nil {
							return
						}
						time.Sleep(100 * time.Millisecond)
					}
				}()
			}
		}
	}
}

// mcuSDP is an answer or offer from the MCU with its message's sid (a
// subscriber's answer must carry the offer's).
type mcuSDP struct {
	webrtc.SessionDescription
	sid string
}

// waitSDP waits for the MCU's answer or offer.
func (p *benchPeer) waitSDP(ctx context.Context) (mcuSDP, error) {
	select {
	case sd := <-p.sdp:
		return sd, nil
	case <-ctx.Done():
		return mcuSDP{}, ctx.Err()
	case <-time.After(20 * time.Second):
		return mcuSDP{}, fmt.Errorf("no SDP from the MCU in 20 s")
	}
}

// publish adds the synthetic tracks, sends the offer (with every
// candidate: gathering completes first) for the "video" stream and sets
// the answer; the tracks send from then on until close.
func (p *benchPeer) publish(ctx context.Context) error {
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", p.user)
	if err != nil {
		return err
	}
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", p.user)
	if err != nil {
		return err
	}
	for _, tr := range []webrtc.TrackLocal{audio, video} {
		sender, err := p.pc.AddTrack(tr)
		if err != nil {
			return err
		}
		go drainRTCP(sender)
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	own := p.conn.Hello.SessionID
	if err := p.conn.Send(ctx, map[string]any{"id": "offer-" + p.user, "type": "message", "message": map[string]any{
		"recipient": map[string]any{"type": "session", "sessionid": own},
		"data": map[string]any{"to": own, "type": "offer", "roomType": "video", "sid": "sid-" + p.user,
			"payload": map[string]any{"type": "offer", "sdp": p.pc.LocalDescription().SDP}},
	}}); err != nil {
		return err
	}
	answer, err := p.waitSDP(ctx)
	if err != nil {
		return err
	}
	if err := p.pc.SetRemoteDescription(answer.SessionDescription); err != nil {
		return err
	}
	go p.send(video, time.Second/mediaVideoFPS, mediaVideoBitrate/8/mediaVideoFPS)
	go p.send(audio, 20*time.Millisecond, mediaAudioBytes)
	return nil
}

// send writes a sample of size random bytes every interval.
func (p *benchPeer) send(track *webrtc.TrackLocalStaticSample, interval time.Duration, size int) {
	buf := make([]byte, size)
	_, _ = rand.Read(buf)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			buf[0] = 0x10 // a VP8 key frame's first byte (show_frame, key): Janus reads it for keyframe hints
			if err := track.WriteSample(media.Sample{Data: buf, Duration: interval}); err != nil {
				return
			}
		}
	}
}

// drainRTCP reads the RTCP a sender gets (pion needs it read).
func drainRTCP(sender *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := sender.Read(buf); err != nil {
			return
		}
	}
}

// subscribe asks for publisher's "video" stream (requestoffer), answers
// Janus' offer with every candidate, and counts what arrives.
func (p *benchPeer) subscribe(ctx context.Context, publisher string) error {
	p.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		kind := tr.Kind().String()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			p.pkts.Add(1)
			p.bytes.Add(int64(len(pkt.Payload)))
			p.mu.Lock()
			p.tracks[kind]++
			p.mu.Unlock()
		}
	})
	if err := p.conn.Send(ctx, map[string]any{"id": "request-" + p.user, "type": "message", "message": map[string]any{
		"recipient": map[string]any{"type": "session", "sessionid": publisher},
		"data":      map[string]any{"to": publisher, "type": "requestoffer", "roomType": "video", "sid": "sid-" + p.user},
	}}); err != nil {
		return err
	}
	offer, err := p.waitSDP(ctx)
	if err != nil {
		return err
	}
	if err := p.pc.SetRemoteDescription(offer.SessionDescription); err != nil {
		return err
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return err
	}
	<-gathered
	return p.conn.Send(ctx, map[string]any{"id": "answer-" + p.user, "type": "message", "message": map[string]any{
		"recipient": map[string]any{"type": "session", "sessionid": publisher},
		"data": map[string]any{"to": publisher, "type": "answer", "roomType": "video", "sid": offer.sid,
			"payload": map[string]any{"type": "answer", "sdp": p.pc.LocalDescription().SDP}},
	}})
}

// tracksReceiving is how many tracks have delivered RTP.
func (p *benchPeer) tracksReceiving() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tracks)
}

// close leaves: the peer connection, the signaling session (bye), the socket.
func (p *benchPeer) close() {
	p.once.Do(func() {
		close(p.stop)
		if p.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = p.conn.Send(ctx, map[string]any{"type": "bye", "bye": map[string]any{}})
			cancel()
			_ = p.conn.Close()
		}
		_ = p.pc.Close()
		_ = p.sock.Close()
	})
}

// procTreeCPU is the CPU time (utime+stime) of pid and its descendants,
// from /proc/<pid>/stat; a process's figure covers all its threads.
func procTreeCPU(pid int) (time.Duration, error) {
	const ticks = 100 // USER_HZ on Linux
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	parent := map[int]int{}
	cpu := map[int]int64{}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... : fields after the comm's ")".
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b)[i+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		parent[n], cpu[n] = ppid, utime+stime
	}
	if _, ok := cpu[pid]; !ok {
		return 0, fmt.Errorf("no process %d", pid)
	}
	var total int64
	for n, c := range cpu {
		for q := n; q > 1; q = parent[q] {
			if q == pid {
				total += c
				break
			}
		}
	}
	return time.Duration(total) * time.Second / ticks, nil
}

// selfCPU is the test process' own CPU time (all its threads, not its
// children: the daemons are children of it).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// loadAverage is the host's 1/5/15-minute load, for the figures' context.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
