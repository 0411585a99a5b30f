#!/usr/bin/env bash
# The GPU runbook (issue 15): on a CUDA machine, one command that
#   1. runs every notebook at smoke on CUDA (verdicts checked),
#   2. runs the Triton kernel tests compiled for the GPU (TRITON_INTERPRET=0, NBS_TEST_DEVICE=cuda),
#   3. runs the notebooks listed in ci/gpu_paper.txt at the paper profile (verdicts reported, not enforced),
#   4. writes _build/gpu_report.json and the book page book/gpu_runs.md (device, versions, seconds per
#      notebook, verdicts, peak memory) with `python -m ci.gpu_report`.
# Commit book/gpu_runs.md and book/gpu_report.json afterwards: they name the device they came from.
#   bash ci/gpu_check.sh                 # everything
#   bash ci/gpu_check.sh --skip-paper    # steps 1, 2 and 4 only (minutes)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash ci/setup.sh
PY=.venv/bin/python
if ! $PY -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "error: no CUDA GPU is visible to torch here; this runbook needs one (pip install torch==2.13.0 gives the CUDA build on a GPU machine)" >&2
  exit 2
fi
OUT=_build/gpu
rm -rf "$OUT"; mkdir -p "$OUT"
status=0
echo "== 1/3 every notebook at smoke on CUDA"
$PY -m ci.runner --profile smoke --device cuda --jobs 1 --out "$OUT/smoke" || status=1
echo "== 2/3 Triton kernels compiled on the GPU against their torch references"
TRITON_INTERPRET=0 NBS_TEST_DEVICE=cuda $PY -m pytest -q -p no:xdist -m triton tests \
  --junitxml "$OUT/triton.xml" || status=1
if [ "${1:-}" != "--skip-paper" ]; then
  echo "== 3/3 chosen notebooks at the paper profile"
  mapfile -t PAPER < <(grep -v '^\s*#' ci/gpu_paper.txt | grep -v '^\s*$')
  $PY -m ci.plan --profile paper --device cuda --gpu-mem "${NBS_GPU_MEM:-80GB}" "${PAPER[@]}" || true
  $PY -m ci.runner --profile paper --device cuda --jobs 1 --no-check-verdicts --out "$OUT/paper" "${PAPER[@]}" || status=1
fi
$PY -m ci.gpu_report --build "$OUT" --write
exit $status
