#!/usr/bin/env bash
# Create .venv (if needed) and install everything the book and its tests need. Idempotent: a stamp of
# the requirement files skips the install when nothing changed. Needs only Python 3.11 on the PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
      PY="$cand"; break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "error: Python 3.11 is needed (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $PY"
  "$PY" -m venv .venv
fi
STAMP=".venv/.nbs-stamp"
WANT="$(cat requirements.txt requirements-triton.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  exit 0
fi
echo "== installing requirements into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
.venv/bin/python -m pip install --quiet --no-deps -e .
# Optional Triton (GPU kernels; on CPU the tests run them through TRITON_INTERPRET=1). A CUDA torch
# brings its own triton, which is kept. Failure to install it is not an error: those tests are skipped.
if ! .venv/bin/python -c 'import triton' >/dev/null 2>&1; then
  .venv/bin/python -m pip install --quiet -r requirements-triton.txt \
    || echo "note: triton could not be installed; the GPU-kernel tests will be skipped"
fi
echo "$WANT" > "$STAMP"
