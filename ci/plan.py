"""Resource plan: what each notebook will need, estimated before any work.

    python -m ci.plan --profile paper --device cuda --gpu-mem 80GB      # a table per notebook
    python -m ci.runner --plan --profile paper --device cuda             # the same, from the runner

By the book's contract nothing long runs before a notebook's setup cell, where every experiment config is
built (and validated). The plan executes only the imports, the parameters (with the overrides) and the setup
cell of each notebook, in a fresh interpreter with ``device="cpu"`` (the configs do not depend on the
device), collects every :class:`nbs_lib.experiment.Config` it finds, and sums up their
:meth:`~nbs_lib.experiment.Config.resources`: the peak working set (the largest of the configs, since
experiments run one after another) and the total work. On ``cuda`` the working set is compared with the
GPU's memory, on the CPU with the host's. A config whose estimate exceeds the host limit refuses already
when it is built (``NBS_MAX_HOST_GB``), and the plan shows that refusal.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

_PROBE = r'''
import json, sys
from nbs_lib.experiment import Config
_found = []
def _walk(v, depth=0):
    if isinstance(v, Config):
        _found.append(v)
    elif depth < 2 and isinstance(v, (list, tuple)):
        for x in v: _walk(x, depth + 1)
    elif depth < 2 and isinstance(v, dict):
        for x in v.values(): _walk(x, depth + 1)
for k, v in list(globals().items()):
    if not k.startswith("_"): _walk(v)
_rows = []
for c in _found:
    r = c.resources()
    _rows.append({"config": type(c).__name__, "host_bytes": getattr(r, "host_bytes", None),
                 "device_bytes": getattr(r, "device_bytes", None), "flops": getattr(r, "flops", None)})
print("\n@@PLAN@@" + json.dumps(_rows))
'''


def parse_bytes(text: str) -> float:
    """Return bytes for ``"80GB"``, ``"512MB"``, ``"1.5TB"`` or a plain number of bytes."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)i?B?\s*", str(text), re.I)
    if not m:
        raise ValueError(f"memory must look like 80GB or 512MB, got {text!r}")
    return float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2).upper()]


def setup_source(path: Path, params: dict) -> str:
    """Return the code of the imports, the parameters (with ``params`` applied) and the setup cell."""
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    idx = next((i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])), None)
    if idx is None or idx + 1 >= len(code):
        raise ValueError(f"{path}: no parameters cell followed by a setup cell")
    overrides = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cells = [c.source for c in code[:idx + 1]] + [overrides, code[idx + 1].source]
    return "\n\n".join(cells)


def plan_notebook(path: Path, *, profile: str, params: dict | None = None, timeout: int = 300) -> dict:
    """Return ``{"path", "configs": [...], "peak_bytes", "flops", "error"}`` for one notebook."""
    p = dict(params or {})
    p.update(profile=profile, device="cpu")
    rel = path.resolve().relative_to(ROOT).as_posix()
    try:
        src = setup_source(path, p) + "\n" + _PROBE
    except ValueError as exc:
        return {"path": rel, "configs": [], "peak_bytes": None, "flops": None, "error": str(exc)}
    env = dict(os.environ, NBS_HEADLESS="1", MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", src], cwd=path.parent, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        return {"path": rel, "configs": [], "peak_bytes": None, "flops": None, "error": last}
    rows = json.loads(r.stdout.split("@@PLAN@@")[-1])
    known = [x for x in rows if x["host_bytes"] is not None]
    peak = max(((x["host_bytes"] or 0) + (x["device_bytes"] or 0) for x in known), default=None)
    flops = sum((x["flops"] or 0) for x in known) if known else None
    return {"path": rel, "configs": rows, "peak_bytes": peak, "flops": flops, "error": "",
            "unestimated": [x["config"] for x in rows if x["host_bytes"] is None]}


def verdict(row: dict, *, device: str, gpu_mem: float, host_mem: float) -> str:
    """Return ``fits``, ``refused: …`` or ``unknown: …`` for a planned notebook."""
    if row["error"]:
        return f"refused: {row['error']}"
    if row["peak_bytes"] is None:
        return "unknown: no config estimates its resources"
    limit, what = (gpu_mem, "GPU") if device.startswith("cuda") else (host_mem, "host")
    if row["peak_bytes"] > limit:
        return f"refused: needs about {row['peak_bytes'] / 1e9:.3g} GB, over the {limit / 1e9:.3g} GB of {what} memory"
    return "fits" + (f" (not estimated: {', '.join(row['unestimated'])})" if row.get("unestimated") else "")


def table(rows: list[dict], *, device: str, gpu_mem: float, host_mem: float) -> str:
    """Return the plan as a text table."""
    out = [f"{'notebook':60s} {'peak GB':>9s} {'work flop':>10s}  verdict"]
    for r in rows:
        gb = "-" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 1e9:.3g}"
        fl = "-" if r["flops"] is None else f"{r['flops']:.2g}"
        out.append(f"{r['path']:60s} {gb:>9s} {fl:>10s}  {verdict(r, device=device, gpu_mem=gpu_mem, host_mem=host_mem)}")
    return "\n".join(out)


def main(argv=None) -> int:
    from ci import runner

    ap = argparse.ArgumentParser(prog="python -m ci.plan", description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--device", default="cuda", help="the device the run is planned for (not needed here)")
    ap.add_argument("--chapter")
    ap.add_argument("--gpu-mem", default="80GB")
    ap.add_argument("--host-mem", default="64GB")
    ap.add_argument("--json", help="also write the rows to this file")
    a = ap.parse_args(argv)
    try:
        gpu, host = parse_bytes(a.gpu_mem), parse_bytes(a.host_mem)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = [Path(p) for p in a.paths] or runner.toc_notebooks(ROOT, a.chapter)
    env_limit = os.environ.get("NBS_MAX_HOST_GB")
    os.environ["NBS_MAX_HOST_GB"] = env_limit or str(max(host, gpu) / 1e9)
    rows = [plan_notebook(p, profile=a.profile) for p in paths]
    print(table(rows, device=a.device, gpu_mem=gpu, host_mem=host))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 1 if any(verdict(r, device=a.device, gpu_mem=gpu, host_mem=host).startswith("refused") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
