#!/bin/bash
# certbot deploy hook (nctalk): nginx and coturn get their own copy, then reload
set -euo pipefail
src=${RENEWED_LINEAGE:?}
for f in {{sh .Paths.TLSCertFile}} {{sh .Paths.TLSKeyFile}}; do
  install -m 0600 "$src/$f" {{sh .Paths.NginxTLSDir}}/"$f"
  install -m 0400 -o {{.UIDs.Coturn}} -g {{.UIDs.Coturn}} "$src/$f" {{sh .Paths.CoturnTLSDir}}/"$f"
done
if [ -n "$(docker ps -q --filter name=nctalk-nginx-1 2>/dev/null)" ]; then
  docker kill -s HUP nctalk-nginx-1 >/dev/null
  docker restart nctalk-coturn-1 >/dev/null
fi
