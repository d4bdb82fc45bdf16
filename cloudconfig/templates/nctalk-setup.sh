#!/bin/bash
# nctalk-setup (nctalk-setup.service: first boot, every boot, 60 s after a failure)
set -euo pipefail
domain={{sh .Domain}}
names=({{sh .Domain}}{{if .TURN443}} {{sh .TURNDomain}}{{end}})
acme={{sh .ACMEServer}}
resolvers=({{range $i, $r := .Resolvers}}{{if $i}} {{end}}{{sh $r}}{{end}})
le={{sh .Paths.LetsEncryptDir}}
hook={{sh .Paths.CertDeployHook}}
acme_failures={{sh .Paths.ACMEFailureLog}}
log() { echo "nctalk-setup: $*"; }
fail() { log "FAILED: $*; nctalk-setup.service runs the setup again in 60 s"; exit 1; }
compose() { docker compose -f {{sh .Paths.ComposeFile}} "$@"; }

{{/* retry N DELAY WHAT CMD...: runs CMD up to N times, doubling DELAY after each failure. */ -}}
retry() {
  local n=$1 delay=$2 what=$3 i
  shift 3
  for i in $(seq "$n"); do
    "$@" && return 0
    [ "$i" = "$n" ] && break
    log "$what: attempt $i of $n failed; next attempt in ${delay}s"
    sleep "$delay"
    delay=$((delay * 2))
  done
  log "$what: attempt $n of $n failed"
  return 1
}

{{/* The state volume keeps $le across rebuilds. It is formatted only when it is
blank and it is a Hetzner volume (the path the stack attaches). */ -}}
{{if .StateDevice -}}
dev={{sh .StateDevice}}
state={{sh .Paths.StateMount}}
mount_state() {
  for _ in $(seq 150); do [ -b "$dev" ] && break; sleep 2; done
  [ -b "$dev" ] || fail "no state volume $dev after 5 min"
  rc=0
  blkid -p "$dev" >/dev/null 2>&1 || rc=$?
  case $rc in
    0) ;;
    2) case $dev in
         /dev/disk/by-id/scsi-0HC_Volume_[0-9]*) log "formatting blank state volume $dev"; mkfs.ext4 -q -L nctalk-state "$dev" ;;
         *) fail "$dev is blank and not a Hetzner volume (/dev/disk/by-id/scsi-0HC_Volume_<id>): not formatting it" ;;
       esac ;;
    *) fail "blkid $dev: exit $rc" ;;
  esac
  mkdir -p "$state"
  if ! mountpoint -q "$state"; then
    uuid=$(blkid -s UUID -o value "$dev" || true)
    [ -n "$uuid" ] || fail "$dev has no file system UUID: not mounting it"
    grep -q "UUID=$uuid " /etc/fstab || echo "UUID=$uuid $state ext4 defaults,nofail 0 2" >>/etc/fstab
    mount "$state"
  fi
  mkdir -p "$state/letsencrypt" "$le"
  if ! mountpoint -q "$le"; then
    grep -q " $le " /etc/fstab ||
      echo "$state/letsencrypt $le none bind,nofail,x-systemd.requires-mounts-for=$state 0 0" >>/etc/fstab
    mount "$le"
  fi
  log "state volume $dev mounted on $state"
}
{{- else -}}
mount_state() { :; }
{{- end}}

prepare_files() {
{{- range .OwnedFiles}}
  chown {{sh .Owner}} {{sh .Path}}
{{- end}}
  install -d -m 0755 {{sh .Paths.ACMEWebroot}} {{sh .Paths.CoturnTLSDir}}
  install -d -m 0700 {{sh .Paths.NginxTLSDir}}
  if [ -e "$le/live/$domain/"{{sh .Paths.TLSCertFile}} ]; then
    RENEWED_LINEAGE=$le/live/$domain "$hook"
  elif [ ! -e {{sh .Paths.NginxTLSDir}}/{{sh .Paths.TLSCertFile}} ]; then
    tmp=$(mktemp -d)
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$domain" \
      -keyout "$tmp/"{{sh .Paths.TLSKeyFile}} -out "$tmp/"{{sh .Paths.TLSCertFile}} 2>/dev/null
    RENEWED_LINEAGE=$tmp "$hook"
    rm -rf "$tmp"
  fi
}

{{/* Succeeds when the first public resolver that answers gives only this
host's addresses for the name $1. Not the local resolver: cloud-init's
manage_etc_hosts and systemd-resolved answer the own name locally. */ -}}
dns_points_here() {
  own=$(ip -o addr show scope global | awk '{print $4}' | cut -d/ -f1)
  for r in "${resolvers[@]}"; do
    found=$(dig +short +time=3 +tries=1 @"$r" A "$1" && dig +short +time=3 +tries=1 @"$r" AAAA "$1") || continue
    found=$(grep -E '^([0-9.]+|[0-9a-f.]*:[0-9a-f:.]*)$' <<<"$found" || true) # drop CNAMEs
    [ -n "$found" ] || continue
    for a in $found; do grep -qxF "$a" <<<"$own" || return 1; done
    return 0
  done
  return 1
}

{{/* certbot_try ARGS...: one certbot attempt within Let's Encrypt's limit of
5 failed validations per name and hour: when the last hour (kept in
$acme_failures across runs) holds {{.ACMEFailuresPerHour}} failed attempts, it first waits until
the oldest of them is an hour old. */ -}}
certbot_try() {
  local now recent oldest
  mkdir -p "$(dirname "$acme_failures")"
  touch "$acme_failures"
  now=$(date +%s)
  recent=$(awk -v c="$((now - 3600))" '$1 > c' "$acme_failures")
  if [ "$(grep -c . <<<"$recent")" -ge {{.ACMEFailuresPerHour}} ]; then
    oldest=$(head -n 1 <<<"$recent")
    log "certbot: {{.ACMEFailuresPerHour}} failed attempts in the last hour (Let's Encrypt allows 5 failed validations an hour); next attempt in $((oldest + 3600 - now))s"
    sleep "$((oldest + 3600 - now))"
  fi
  certbot "$@" && return 0
  date +%s >>"$acme_failures"
  return 1
}

has_names() { # the live certificate holds every name
  for n in "${names[@]}"; do
    openssl x509 -in "$le/live/$domain/cert.pem" -noout -checkhost "$n" | grep -q ' does match' || return 1
  done
}

certificate() {
  conf=$le/renewal/$domain.conf
  if [ -e "$conf" ] && grep -qxF "server = $acme" "$conf" && has_names; then
    log "certificate: ${names[*]} from $acme is on hand"
    return 0
  fi
  d=()
  for n in "${names[@]}"; do
    d+=(-d "$n")
    log "DNS: waiting until $n points here (asking ${resolvers[*]})"
    for i in $(seq {{.DNSWaitRounds}}); do
      dns_points_here "$n" && break
      [ "$i" = {{.DNSWaitRounds}} ] && fail "DNS of $n is not this host after {{.DNSWaitMinutes}} min"
      sleep 10
    done
    log "DNS: $n points here"
  done
  retry 4 30 certbot certbot_try certonly -n --agree-tos --no-eff-email -m {{sh .ACMEEmail}} --server "$acme" \
    --webroot -w {{sh .Paths.ACMEWebroot}} --cert-name "$domain" "${d[@]}" --deploy-hook "$hook" --force-renewal ||
    fail "no certificate for ${names[*]} from $acme (/var/log/letsencrypt)"
  log "certificate: issued for ${names[*]} by $acme"
}

{{/* `nctalk-setup certificate`: only the certificate step, for an in-place
change of the names or the CA (nctalk-apply). */ -}}
if [ "${1:-}" = certificate ]; then
  log "certificate: checking ${names[*]} from $acme"
  certificate
  exit 0
fi

rm -f {{sh .Paths.ReadyMarker}}
log "start"
{{- /* The host firewall first: mount_state may wait minutes for the volume. */}}
systemctl daemon-reload
systemctl enable nctalk-firewall
systemctl restart nctalk-firewall
mount_state
prepare_files
systemctl try-reload-or-restart systemd-resolved
sshd -t || fail "sshd -t rejects the SSH configuration: sshd not restarted"
systemctl restart ssh
log "containers: pulling images and starting"
retry 5 15 "compose up" compose up -d --quiet-pull || fail "containers did not start (image pull?)"
log "containers: up"
certificate
{{sh .Paths.ReadyScript}} || fail "services not ready"
log "ready"
