#!/bin/bash
# nctalk-setup (run by cloud-init; safe to rerun)
set -euo pipefail
domain={{sh .Domain}}
names=({{sh .Domain}}{{if .TURN443}} {{sh .TURNDomain}}{{end}})
dev={{sh .StateDevice}}
state={{sh .Paths.StateMount}}
le={{sh .Paths.LetsEncryptDir}}
hook={{sh .Paths.CertDeployHook}}
log() { echo "nctalk-setup: $*"; }
compose() { docker compose -f {{sh .Paths.ComposeFile}} "$@"; }

# The state volume keeps $le across rebuilds; formatted only when blank.
mount_state() {
  [ -n "$dev" ] || return 0
  for _ in $(seq 150); do [ -b "$dev" ] && break; sleep 2; done
  [ -b "$dev" ] || { log "no $dev after 5 min"; return 1; }
  rc=0
  blkid -p "$dev" >/dev/null 2>&1 || rc=$?
  case $rc in
    0) ;;
    2) log "formatting blank $dev"; mkfs.ext4 -q -L nctalk-state "$dev" ;;
    *) log "blkid $dev: exit $rc"; return 1 ;;
  esac
  mkdir -p "$state"
  if ! mountpoint -q "$state"; then
    uuid=$(blkid -s UUID -o value "$dev")
    grep -q "UUID=$uuid " /etc/fstab || echo "UUID=$uuid $state ext4 defaults,nofail 0 2" >>/etc/fstab
    mount "$state"
  fi
  mkdir -p "$state/letsencrypt" "$le"
  if ! mountpoint -q "$le"; then
    grep -q " $le " /etc/fstab ||
      echo "$state/letsencrypt $le none bind,nofail,x-systemd.requires-mounts-for=$state 0 0" >>/etc/fstab
    mount "$le"
  fi
}

prepare_files() {
  chown {{.UIDs.Signaling}}:{{.UIDs.Signaling}} {{sh .Paths.SignalingConfig}}
  chown {{.UIDs.Coturn}}:{{.UIDs.Coturn}} {{sh .Paths.CoturnConfig}}
  chmod 0400 {{sh .Paths.SignalingConfig}} {{sh .Paths.CoturnConfig}}
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

# Succeeds when all A/AAAA records of the name $1 are this host's.
dns_points_here() {
  own=$(ip -o addr show scope global | awk '{print $4}' | cut -d/ -f1)
  found=$(dig +short A "$1"; dig +short AAAA "$1")
  found=$(grep -E '^([0-9.]+|[0-9a-f.]*:[0-9a-f:.]*)$' <<<"$found" || true) # drop CNAMEs
  [ -n "$found" ] || return 1
  for a in $found; do grep -qxF "$a" <<<"$own" || return 1; done
}

has_names() { # the live certificate holds every name
  for n in "${names[@]}"; do
    openssl x509 -in "$le/live/$domain/cert.pem" -noout -checkhost "$n" | grep -q ' does match' || return 1
  done
}

certificate() {
  conf=$le/renewal/$domain.conf
  staging=$(grep -c acme-staging "$conf" 2>/dev/null || true)
  [ -e "$conf" ] && [ "$staging" = {{if .ACMEStaging}}1{{else}}0{{end}} ] && has_names && return 0
  d=()
  for n in "${names[@]}"; do
    d+=(-d "$n")
    for i in $(seq {{.DNSWaitRounds}}); do
      dns_points_here "$n" && break
      [ "$i" = {{.DNSWaitRounds}} ] && { log "DNS of $n is not this host after {{.DNSWaitMinutes}} min; fix it, rerun $0"; return 1; }
      sleep 10
    done
  done
  certbot certonly -n --agree-tos --no-eff-email -m {{sh .ACMEEmail}} --webroot -w {{sh .Paths.ACMEWebroot}} \
    --cert-name "$domain" "${d[@]}" --deploy-hook "$hook" --force-renewal{{if .ACMEStaging}} --staging{{end}}
}

mount_state
prepare_files
systemctl daemon-reload
systemctl enable nctalk-firewall
systemctl restart nctalk-firewall
sshd -t && systemctl restart ssh
for i in 1 2 3; do compose pull -q && break; [ "$i" = 3 ] && exit 1; sleep 15; done
compose up -d
certificate
{{sh .Paths.ReadyScript}}
