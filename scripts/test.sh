#!/usr/bin/env bash
# The test command (README, second set-up command; .ci/run runs exactly this).
# Installs what the tests need from nothing, then: ruff, mypy --strict, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

# System packages used by end-to-end tests. Installed when missing and we are root;
# otherwise those tests say what is missing and skip (under CI=true they fail instead).
if [ -x scripts/system-deps.sh ]; then
  scripts/system-deps.sh
fi

echo "== ruff"
.venv/bin/ruff check src tests benchmarks examples fuzz
.venv/bin/ruff format --check src tests benchmarks examples fuzz
echo "== mypy --strict src"
.venv/bin/mypy --strict src
echo "== pytest"
.venv/bin/python -m pytest -q "$@"
