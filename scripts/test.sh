#!/usr/bin/env bash
# Every check: lint, types, unit tests, integration tests (real daemons in
# network namespaces; those need root). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ruff";  .venv/bin/ruff check .
echo "== mypy";  .venv/bin/mypy
if [ "$(.venv/bin/python -m rkmp_frr.build status)" = compiled ] && [ $# -eq 0 ]; then
  # The pure-Python core is the fallback where no C compiler is: its unit
  # tests run too, on a copy of the tree without the compiled modules.
  echo "== pytest tests (pure-Python core)"
  pure=$(mktemp -d /tmp/rkmp-pure.XXXXXX)
  trap 'rm -rf "$pure"' EXIT
  tar --exclude='*.so' --exclude='.*cache' --exclude=./build --exclude=./.venv --exclude=./.git \
    --exclude=./.hypothesis -cf - . |
    tar -xf - -C "$pure"
  (cd "$pure" && RKMP_EXPECT_BUILD=pure PYTHONPATH="$pure" \
     "$OLDPWD/.venv/bin/python" -m pytest tests -q -p no:cacheprovider)
fi
echo "== pytest"
.venv/bin/python -m pytest "$@"
