#!/usr/bin/env bash
# Set up, then run hiscrm on the embedded defaults (SQLite, the local demo
# platform, supervisord). Extra arguments go to `hiscrm up`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/hiscrm up "$@"
