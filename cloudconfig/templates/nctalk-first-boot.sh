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

systemctl enable "$unit"
systemctl start "$unit" && exit 0
log "the setup's first run failed (journalctl -u $unit); $unit runs it again 60 s after each failure: waiting up to {{.FirstBootWaitMinutes}} min for a run to succeed"
for _ in $(seq {{.FirstBootWaitRounds}}); do
  sleep 10
  if [ -e "$marker" ]; then
    log "ready: a later run of the setup succeeded"
    exit 0
  fi
done
log "not ready after {{.FirstBootWaitMinutes}} min; $unit keeps running the setup again 60 s after each failure"
exit 1
