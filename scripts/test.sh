#!/usr/bin/env bash
# Every check: lint, types, unit tests, integration tests (real daemons in
# network namespaces; those need root). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ruff";  .venv/bin/ruff check .
echo "== mypy";  .venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
