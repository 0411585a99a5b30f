#!/usr/bin/env bash
# The duplicate-code scan of issue 10 item 6 (target: <= 10 pairs): every notebook of book/ written as a
# percent script (`python -m ci.pynb to-py`) into a temporary tree beside a copy of nbs_lib, ci and tests,
# then the `duplicates` command over that tree. Prints the rows and the pair count.
#   bash ci/dupscan.sh              # the 8 longest pairs and the count
#   bash ci/dupscan.sh --most 60    # more rows (any option of `duplicates`)
# `duplicates` is a tool of the development machine, not a package of requirements.txt: where it is not on
# PATH the script says so and exits 0 (nothing is checked).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! command -v duplicates >/dev/null 2>&1; then
    echo "dupscan: the 'duplicates' command is not on PATH; nothing scanned (it is a tool of the development machine)"
    exit 0
fi
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
TMP="$(mktemp -d "${TMPDIR:-/tmp}/nbs-dupscan.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
for d in nbs_lib ci tests; do
    rsync -a --exclude __pycache__ --exclude '*.pyc' "$d/" "$TMP/$d/" 2>/dev/null || cp -r "$d" "$TMP/$d"
done
find "$TMP" -name __pycache__ -type d -prune -exec rm -rf {} +
"$PY" - "$TMP" <<'PYEOF'
import sys
from pathlib import Path

from ci import pynb

tmp = Path(sys.argv[1])
nbs = sorted(p for p in Path("book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts)
for nb in nbs:
    out = tmp / nb.with_suffix(".py")
    out.parent.mkdir(parents=True, exist_ok=True)
    if pynb.main(["to-py", str(nb), str(out)]) not in (0, None):
        sys.exit(f"dupscan: cannot convert {nb}")
print(f"dupscan: {len(nbs)} notebooks as scripts + nbs_lib, ci, tests in {tmp}")
PYEOF
REPORT="$(duplicates --repo "$TMP" --seconds 120 "$@")"
echo "${REPORT//$TMP\//}"
PAIRS="$(printf '%s\n' "$REPORT" | head -1 | grep -oE '^[0-9]+' || echo 0)"
echo "dupscan: $PAIRS pairs (target <= 10)"
