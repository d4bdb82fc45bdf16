#!/bin/bash
# nctalk-first-boot (cloud-init's runcmd, once per server): starts
# nctalk-setup.service and returns when the backend is ready, so that
# `cloud-init status --wait` means "the backend answers". A failed run is
# run again by the unit 60 s later (Restart=on-failure); this waits through
# those runs for {{.FirstBootWaitMinutes}} min before it reports an error.
set -uo pipefail
unit={{sh .Paths.SetupUnitName}}
marker={{sh .Paths.ReadyMarker}}
log() { echo "nctalk-first-boot: $*"; }

{{/* The packages the image brought are upgraded once the backend is ready,
in the background: nothing waits for it, and unattended-upgrades keeps
them current from then on. */ -}}
upgrade() {
  systemd-run --no-block --unit=nctalk-upgrade --setenv=DEBIAN_FRONTEND=noninteractive \
    apt-get -y -q -o Dpkg::Options::=--force-confold full-upgrade >/dev/null &&
    log "ready; the full upgrade runs in the background (journalctl -u nctalk-upgrade)"
}

systemctl enable "$unit"
if systemctl start "$unit"; then
  upgrade
  exit 0
fi
log "the setup's first run failed (journalctl -u $unit); $unit runs it again 60 s after each failure: waiting up to {{.FirstBootWaitMinutes}} min for a run to succeed"
for _ in $(seq {{.FirstBootWaitRounds}}); do
  sleep 10
  if [ -e "$marker" ]; then
    log "ready: a later run of the setup succeeded"
    upgrade
    exit 0
  fi
done
log "not ready after {{.FirstBootWaitMinutes}} min; $unit keeps running the setup again 60 s after each failure"
exit 1
