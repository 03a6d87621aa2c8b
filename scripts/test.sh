#!/usr/bin/env bash
# Set up, then run the whole test suite (real processes on loopback, real
# Chromium, and PostgreSQL for the store tests). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
if [[ -z "${HISCRM_TEST_DATABASE_URL:-}" ]]; then
    if url=$(bash scripts/test_postgres.sh); then
        export HISCRM_TEST_DATABASE_URL="$url"
    else
        echo "warning: PostgreSQL could not be started; its store tests will be skipped" >&2
    fi
fi
.venv/bin/ruff check .
# The type check ([tool.mypy] in pyproject.toml: master, worker, hiscrm_common, ops).
.venv/bin/mypy
set +e
.venv/bin/python -m pytest -n "${HISCRM_TEST_JOBS:-3}" --dist loadfile -p no:cacheprovider "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit $rc
