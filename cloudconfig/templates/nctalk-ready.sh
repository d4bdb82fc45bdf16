#!/bin/bash
# nctalk-ready [ROUNDS]: waits until every service answers (ROUNDS of 5 s,
# default 60: 5 min), then writes the marker
set -uo pipefail
rounds=${1:-60}
domain={{sh .Domain}}
{{- if .Run.Proxy}}
url=https://$domain/welcome
proxy() {
  curl -fsS -m 5{{if .ACMEStaging}} -k{{end}} --resolve "$domain:{{.Ports.HTTPS}}:127.0.0.1" "$url" |
    grep -q '"nextcloud-spreed-signaling-proxy"'
}
janus() { # Janus' websocket listens (only the proxy's uid may speak to it)
  timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/{{.Ports.JanusWS}}'
}
{{- else}}
url=https://$domain{{sh .SignalingPath}}
signaling() {
  curl -fsS -m 5{{if .ACMEStaging}} -k{{end}} --resolve "$domain:{{.Ports.HTTPS}}:127.0.0.1" "$url/api/v1/welcome" |
    grep -q '"nextcloud-spreed-signaling"'
}
{{- if .Run.Janus}}
janus() {
  curl -fsS -m 5 http://127.0.0.1:{{.Ports.SignalingHTTP}}/api/v1/stats | tr -d '[:space:]' |
    grep -Eq '"mcu":\{[^}]*"connected":true'
}
{{- end}}
nats() {
  timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/{{.Ports.NATS}} && head -c 4 <&3' | grep -q INFO
}
{{- end}}
turn() { # STUN binding over TCP
  timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/{{.Ports.TURN}} &&
    printf "\x00\x01\x00\x00\x21\x12\xa4\x42nctalkready0" >&3 && head -c 2 <&3' | od -An -tx1 | grep -q '01 01'
}
turns() {
  timeout 5 openssl s_client -connect 127.0.0.1:{{.Ports.TURNS}} -servername "$domain"{{if not .ACMEStaging}} \
    -verify_return_error -verify_hostname "$domain"{{end}} </dev/null >/dev/null 2>&1
}
{{- if .TURN443}}
turn443() { # STUN binding over TLS through nginx's 443 front, by the TURN name
  { printf "\x00\x01\x00\x00\x21\x12\xa4\x42nctalkready0"; sleep 1; } |
    timeout 5 openssl s_client -quiet -no_ign_eof -connect 127.0.0.1:{{.Ports.HTTPS}} -servername {{sh .TURNDomain}} 2>/dev/null |
    od -An -tx1 -N2 | grep -q '01 01'
}
{{- end}}
for _ in $(seq "$rounds"); do
  failing=
  for check in {{if .Run.Proxy}}proxy janus{{else}}signaling{{if .Run.Janus}} janus{{end}} nats{{end}} turn turns{{if .TURN443}} turn443{{end}}; do "$check" || failing+=" $check"; done
  [ -z "$failing" ] && break
  sleep 5
done
if [ -z "$failing" ]; then
  msg="nctalk: ready after ${SECONDS}s: $url ({{if .Run.Proxy}}proxy, janus{{else}}signaling{{if .Run.Janus}}, janus{{end}}, nats{{end}}, turn, turns{{if .TURN443}}, turn443{{end}} answer)"
  mkdir -p {{sh (dir .Paths.ReadyMarker)}} && echo "$msg" >{{sh .Paths.ReadyMarker}}
else
  msg="nctalk: NOT ready after ${SECONDS}s, failing:$failing"
fi
echo "$msg"
logger -t nctalk "$msg" || true
[ -z "$failing" ]
