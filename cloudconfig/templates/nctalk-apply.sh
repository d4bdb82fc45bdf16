#!/bin/bash
# {{sh .Paths.ApplyScript}} BUNDLE: applies an in-place change to the running backend.
# BUNDLE is an unpacked bundle (cloudconfig.Bundle): the files the stack
# renders, the list of them (path, mode, owner, what each acts on) and the
# unit digests. Run by the stack over SSH (cloudconfig.ApplyCommand, this
# script from the bundle itself); safe to run again with the same bundle.
set -euo pipefail
bundle=${1:?usage: nctalk-apply BUNDLE}
applied={{sh .Paths.AppliedUnits}}
backup=/var/lib/nctalk/apply-backup
start=$SECONDS
log() { echo "nctalk-apply: $*"; }
fail() { echo "nctalk-apply: FAILED: $*" >&2; exit 1; }
compose() { docker compose -f {{sh .Paths.ComposeFile}} "$@"; }
container() { echo "nctalk-$1-1"; }

exec 9>/run/lock/nctalk-apply.lock
flock -w 600 9 || fail "another nctalk-apply held /run/lock/nctalk-apply.lock for 10 min"
[ "$(cat "$bundle/format")" = {{sh .BundleFormat}} ] || fail "the bundle's format is not "{{sh .BundleFormat}}
{{- if .Run.Proxy}}
if [ "${SSH_ORIGINAL_COMMAND:-}" = {{sh .DrainCommand}} ]; then # the stack deletes this media server
  log "draining the proxy: no new calls here; its calls go on, for up to {{.Proxy.DrainSeconds}} s"
  compose stop --timeout {{.Proxy.DrainSeconds}} proxy # its stop signal SIGUSR1
  log "drained in $((SECONDS - start)) s"
  exit 0
fi
{{- end}}

{{/* 1. The files that differ from the bundle's, by content, mode or owner. */ -}}
changed=()
while read -r path mode uid effects; do
  new=$bundle/root$path
  if [ ! -e "$path" ] || ! cmp -s "$new" "$path" || [ "$(stat -c '%a %u' "$path")" != "${mode#0} $uid" ]; then
    changed+=("$path")
  fi
done <"$bundle/files"

{{/* 2. What each unit must do: from the digests of what runs (the last
apply's) and the bundle's; before any apply (a box fresh from its first
boot) from what the changed files act on. */ -}}
declare -A act=()
rank() { case $1 in write) echo 1 ;; reload) echo 2 ;; restart) echo 3 ;; recreate) echo 4 ;; *) echo 0 ;; esac; }
want() { if (($(rank "$2") > ${act[$1]:-0})); then act[$1]=$(rank "$2"); fi; }
if [ -e "$applied" ]; then
  while read -r u a d; do grep -qxF "$u $a $d" "$applied" || want "$u" "$a"; done <"$bundle/units"
  while read -r u a _; do grep -q "^$u $a " "$bundle/units" || want "$u" "$a"; done <"$applied"
else
  for path in "${changed[@]}"; do
    effects=$(awk -v p="$path" '$1 == p { print $4 }' "$bundle/files")
    for e in ${effects//,/ }; do want "${e%%:*}" "${e#*:}"; done
  done
fi
if [ ${#changed[@]} -eq 0 ] && [ ${#act[@]} -eq 0 ]; then
  install -D -m 0644 "$bundle/units" "$applied"
  log "nothing to change"
  exit 0
fi

{{/* A box still in its first boot finishes it first: the setup is writing
and starting what this would change. */ -}}
if [ ! -e {{sh .Paths.ReadyMarker}} ] && command -v cloud-init >/dev/null; then
  log "waiting for the first boot to finish (cloud-init status --wait)"
  timeout 2700 cloud-init status --wait >/dev/null || true
fi

{{/* 3. Keep the current files, then install the new ones, each written
beside its target and renamed over it (a reader sees the old or the new
file, never a part). */ -}}
rm -rf "$backup" && install -d -m 0700 "$backup"
for path in "${changed[@]}"; do
  if [ -e "$path" ]; then
    mkdir -p "$(dirname "$backup/root$path")" && cp -a "$path" "$backup/root$path"
  fi
done
install_files() { # the bundle's changed files, with the bundle's mode and owner
  local path mode uid
  for path in "${changed[@]}"; do
    read -r mode uid < <(awk -v p="$path" '$1 == p { print $2, $3 }' "$bundle/files")
    mkdir -p "$(dirname "$path")"
    cp "$bundle/root$path" "$path.nctalk-new"
    chown "$uid:$uid" "$path.nctalk-new"
    chmod "$mode" "$path.nctalk-new"
    mv -f "$path.nctalk-new" "$path"
  done
}
restore_files() { # the kept files, as they were (mode and owner included)
  local path
  for path in "${changed[@]}"; do
    if [ -e "$backup/root$path" ]; then
      cp -a "$backup/root$path" "$path.nctalk-new" && mv -f "$path.nctalk-new" "$path"
    else
      rm -f "$path"
    fi
  done
}
rollback() { # restores the kept files and runs the same actions again
  log "rolling back to the last good files"
  restore_files || true
  run_actions rollback || log "the rollback's actions failed too: check docker compose -f "{{sh .Paths.ComposeFile}}" ps"
}
install_files

{{/* 4. Check what can be checked before anything restarts. */ -}}
check() {
  local what=$1
  shift
  if ! out=$("$@" 2>&1); then
    rollback
    fail "$what rejects the new configuration: $(tail -n 3 <<<"$out" | tr '\n' ' ')(the last good files are back; nothing was restarted)"
  fi
}
[ -z "${act[host-firewall]:-}" ] || check "nft" nft -c -f {{sh .Paths.HostFirewallConfig}}
[ -z "${act[sshd]:-}" ] || check "sshd -t" sshd -t
check "docker compose config" compose config -q
[ -z "${act[nginx]:-}" ] || [ "${act[nginx]}" = 4 ] || check "nginx -t" docker exec "$(container nginx)" nginx -t -c {{sh .Paths.NginxConfig}}

{{/* 5. Act, unit by unit in the order of cloudconfig.Units. */ -}}
retry() { # N DELAY CMD...: CMD up to N times, doubling DELAY
  local n=$1 delay=$2 i
  shift 2
  for i in $(seq "$n"); do
    "$@" && return 0
    [ "$i" = "$n" ] || { log "$*: attempt $i of $n failed; next in ${delay}s"; sleep "$delay"; delay=$((delay * 2)); }
  done
  return 1
}
signal() { # SERVICE SIGNAL: to the service's main process, from the host (not `docker kill`, which marks the container as stopped by hand)
  local pid
  pid=$(docker inspect -f '{{"{{"}}.State.Pid{{"}}"}}' "$(container "$1")") && [ "$pid" -gt 0 ] && kill -s "$2" "$pid"
}
reload_signaling() {
  local since
  since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  signal signaling HUP || return 1
  sleep 2
  if docker logs --since "$since" "$(container signaling)" 2>&1 | grep -q 'Could not read configuration'; then
    log "signaling: the reload was refused: $(docker logs --since "$since" "$(container signaling)" 2>&1 | grep 'Could not read configuration' | tail -n 1)"
    return 1
  fi
}
names=({{range .Units}}{{sh .Name}} {{end}})
done_list=()
run_actions() { # PHASE: apply or rollback
  local u a
  if printf '%s\n' "${changed[@]}" | grep -q '^/etc/systemd/'; then systemctl daemon-reload; fi
  for u in "${names[@]}"; do
    a=${act[$u]:-0}
    [ "$a" -gt 1 ] || continue
    case "$u:$a" in
      host-firewall:*) systemctl restart nctalk-firewall ;;
      sshd:*) systemctl reload ssh ;;
      resolved:*) systemctl restart systemd-resolved ;;
      dockerd:*) systemctl restart docker ;;
      certificate:*) {{sh .Paths.SetupScript}} certificate ;;
      signaling:2) reload_signaling ;;
      nginx:2) docker exec "$(container nginx)" nginx -c {{sh .Paths.NginxConfig}} -s reload ;;
{{- if .MCU.Proxy}}
      *:4) if compose config --services | grep -qx "$u"; then
          retry 5 15 compose pull --quiet "$u" && compose up -d --no-deps --quiet-pull "$u"
        else # a service this box no longer runs (scale-out: Janus moves to the media servers)
          docker rm -f "$(container "$u")" >/dev/null
        fi ;;
{{- else}}
      *:4) retry 5 15 compose pull --quiet "$u" && compose up -d --no-deps --quiet-pull "$u" ;;
{{- end}}
      *) compose restart "$u" ;;
    esac || { log "$1: $u: $(case $a in 2) echo reload ;; 3) echo restart ;; 4) echo recreate ;; esac) failed"; failed=$u; return 1; }
    [ "$1" = rollback ] || done_list+=("$u $(case $a in 2) echo reloaded ;; 3) echo restarted ;; 4) echo recreated ;; esac)")
  done
}
failed=
if ! run_actions apply; then
  rollback
  fail "$failed did not take the new configuration (the last good files are back)"
fi

{{/* 6. Every service answers, else roll back. */ -}}
if ! out=$({{sh .Paths.ReadyScript}} 24 2>&1); then
  rollback
  fail "the backend is not ready after the change: ${out##*$'\n'} (the last good files are back)"
fi
install -D -m 0644 "$bundle/units" "$applied"
rm -rf "$backup"
summary=$(printf '%s, ' "${done_list[@]}")
summary=${summary%, }
log "done in $((SECONDS - start)) s: ${summary:-files written}; ${#changed[@]} files changed"
