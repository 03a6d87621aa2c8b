#!/usr/bin/env bash
# Set up a checkout on a fresh Debian machine: system packages, then .venv.
# Usage: bash scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

apt_packages=(python3 python3-venv python3-pip chromium chromium-headless-shell fonts-noto-cjk curl)
# systemd for `systemd-analyze verify` of deploy/systemd/*.service; tini, the
# container image's init, for the entrypoint test (tests/test_deploy_*.py).
if [[ $want_test -eq 1 ]]; then apt_packages+=(postgresql iproute2 procps systemd tini); fi
# npm for buf (tools/package.json), unless node and npm came from elsewhere.
if [[ $want_test -eq 1 ]] && ! command -v npm >/dev/null 2>&1; then apt_packages+=(nodejs npm); fi
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [[ $want_test -eq 1 ]]; then
    # CI installs the locked versions (requirements/ci.lock; refresh it with
    # scripts/lock.sh after changing pyproject's dependencies).
    .venv/bin/python -m pip install -q -c requirements/ci.lock -e '.[test]'
    # buf, for the protocol's lint and breaking-change tests (tests/test_proto_buf.py).
    if command -v npm >/dev/null 2>&1; then
        (cd tools && npm ci --no-audit --no-fund --loglevel=error)
    else
        echo "warning: npm is missing: the buf tests (tests/test_proto_buf.py) will be skipped" >&2
    fi
else
    .venv/bin/python -m pip install -q -e '.[tools]'
fi
# Debian's Chromium (headless shell first) is used where present; elsewhere
# Playwright's own build (which needs internet to download).
if [[ ! -x /usr/bin/chromium-headless-shell && ! -x /usr/bin/chromium ]]; then
    .venv/bin/python -m playwright install chromium || {
        echo "no Chromium: install Debian's 'chromium' package or run 'playwright install chromium'" >&2
        exit 1
    }
fi
