#!/usr/bin/env bash
# The book command of the README: set up .venv if needed, execute every notebook (default profile cpu)
# and build the HTML into _build/html. Extra arguments go to `python -m ci.build_book`
# (e.g. --profile paper --device cuda, --chapter 001).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash ci/setup.sh
exec .venv/bin/python -m ci.build_book "$@"
