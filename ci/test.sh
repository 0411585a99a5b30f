#!/usr/bin/env bash
# The test command of the README (and of .ci/run): set up .venv if needed, then run the unit tests of
# nbs_lib and every notebook of _toc.yml at the smoke profile, two at a time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash ci/setup.sh
exec .venv/bin/python -m pytest -n 2 --dist loadgroup -q -rs tests "$@"
