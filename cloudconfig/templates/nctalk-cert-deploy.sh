#!/bin/bash
# certbot deploy hook (nctalk): nginx and coturn get their own copy and reload it
{{- /* in place. Not `docker kill -s` or `docker restart`: docker kill marks a
`restart: unless-stopped` container as stopped by hand (it stays down after a
reboot or dockerd restart), and a restart drops every TURN session. coturn
(PID 1 of its container) rereads its certificate on SIGUSR2. */}}
set -euo pipefail
src=${RENEWED_LINEAGE:?}
for f in {{sh .Paths.TLSCertFile}} {{sh .Paths.TLSKeyFile}}; do
  install -m 0600 "$src/$f" {{sh .Paths.NginxTLSDir}}/"$f"
  install -m 0400 -o {{.UIDs.Coturn}} -g {{.UIDs.Coturn}} "$src/$f" {{sh .Paths.CoturnTLSDir}}/"$f"
done
running() { [ -n "$(docker ps -q --filter "name=^$1\$" 2>/dev/null)" ]; }
if running nctalk-nginx-1; then
  docker exec nctalk-nginx-1 nginx -c {{sh .Paths.NginxConfig}} -s reload
fi
if running nctalk-coturn-1; then
  docker exec nctalk-coturn-1 sh -c 'kill -USR2 1'
fi
