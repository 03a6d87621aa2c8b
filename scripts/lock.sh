#!/usr/bin/env bash
# Refresh requirements/ci.lock, the exact versions CI installs
# (scripts/setup.sh --test passes it to pip as constraints), from this
# checkout's test virtualenv. Run after changing pyproject's dependencies;
# tests/test_lock.py fails while a dependency is missing from it.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install -q -e '.[test]'
{
    echo "# The versions CI installs: scripts/lock.sh writes this file; do not edit it."
    .venv/bin/python -m pip freeze --exclude-editable --all \
        | grep -v -E '^(pip|setuptools|wheel)=='
} > requirements/ci.lock
