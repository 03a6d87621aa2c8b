#!/bin/sh
# The container's main process (under tini): render the supervisord
# configuration shipped in the wheel into $HISCRM_HOME and run supervisord in
# the foreground, so the container lives exactly as long as supervisord.
#
#   HISCRM_ROLE=main    (default) master + workers + demo platform
#   HISCRM_ROLE=worker  workers only, for a master elsewhere (HISCRM_MASTER,
#                       HISCRM_ENROLL_TOKEN, HISCRM_SECRET_KEY, HISCRM_WORKER_PREFIX)
#   HISCRM_WORKERS      main role: workers on the very first start (default 2);
#                       afterwards the master restores the count an operator
#                       last chose ($HISCRM_HOME/fleet.json, `hiscrm scale`).
# Arguments, when given, run instead (e.g. `docker run ... hiscrm status`).
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

home="${HISCRM_HOME:?HISCRM_HOME must be set}"
role="${HISCRM_ROLE:-main}"
python=python
share="$("$python" -c 'import sysconfig; print(sysconfig.get_path("data"))')/share/hiscrm"

case "$role" in
    main) template="$share/supervisord.conf" ;;
    worker) template="$share/supervisord.worker.conf" ;;
    *) echo "HISCRM_ROLE=$role: use main or worker" >&2; exit 2 ;;
esac
[ -f "$template" ] || { echo "$template is missing: is hiscrm installed?" >&2; exit 1; }

mkdir -p "$home/logs"
config="$home/$(basename "$template")"
# The shipped file keeps its run directory at %(here)s/../var; the demo
# platform's port follows HISCRM_DEMOSITE_PORT as with `hiscrm up`.
sed -e "s|%(here)s/../var|$home|g" \
    -e "s|--port 8300|--port ${HISCRM_DEMOSITE_PORT:-8300}|" \
    "$template" > "$config.tmp"
mv "$config.tmp" "$config"

if [ "$role" = main ]; then
    "$python" - <<'PY'
import os
from pathlib import Path

from hiscrm_common import fleet_size

home = Path(os.environ["HISCRM_HOME"])
if fleet_size.wanted_workers(home) is None:
    fleet_size.remember_workers(home, int(os.environ.get("HISCRM_WORKERS", "2")))
PY
fi

exec "$python" -m supervisor.supervisord -n -c "$config"
