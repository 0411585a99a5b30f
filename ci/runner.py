"""Execute the book's notebooks with papermill and collect their claims into ``_build/reproduction.json``.

    python -m ci.runner                          # every notebook in _toc.yml at the cpu profile
    python -m ci.runner --profile smoke --chapter 000
    python -m ci.runner --profile paper --device cuda book/001_linear_feature_learning/02_two_stage.ipynb
    python -m ci.runner -p width 64 book/intro/kernels_primer.ipynb   # a notebook parameter (JSON value)
    python -m ci.runner --profile smoke --device cpu --default-device meta --chapter 000   # device discipline

Sources are never modified: executed copies go to ``_build/executed/<same path>``. Before any kernel starts
the runner reads each notebook's ``parameters`` cell and refuses a ``-p`` name the notebook does not declare
(exit 2). A failing notebook is reported with its path and the failing cell's error, the others still run,
and the command exits non-zero; so does a notebook whose claims saw a non-finite metric (status
``diverged``). With verdict checking (default) a claim whose verdict differs from its expected verdict also
makes the command exit non-zero.

The notebooks listed in ``ci/exclusive.txt`` (those whose claims are timings) run after all the others, one at
a time with nothing else running. ``--sweep-cluster local:N|tcp://HOST:PORT`` sets ``NBS_SWEEP_CLUSTER`` in the
kernels: where ``nbs_lib.sweep.map`` runs a notebook's grid points (default: in the kernel itself; with
``--cluster``, on that cluster).

Reliability: every kernel runs with the same thread count whatever ``--jobs`` (``--threads``, default 1 on
the CPU), so the same seed gives the same numbers. SIGINT/SIGTERM end every worker and kernel the runner
started and leave ``reproduction.json`` marked ``interrupted``. Outputs are written atomically, and a run id
is stored in ``reproduction.json`` and in each executed notebook's metadata (``nbs_run``), so that
``ci.build_book --no-execute`` can refuse a stale mix. An execution cache (``<out>/cache``) reuses a
notebook's executed copy when its code cells, parameters, profile, device and the library sources
(``nbs_lib/**``) are unchanged; ``--no-cache`` turns it off.
"""
from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import contextlib
import datetime as _dt
import difflib
import fnmatch
import hashlib
import json
import multiprocessing as mp
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
sys.path.insert(0, str(ROOT))

from nbs_lib import claims as _claims  # noqa: E402
from nbs_lib import profiles as _profiles  # noqa: E402

LIB_DIR = Path(_claims.__file__).resolve().parent
CONTEXT_MIME = "application/vnd.nbs-lib.context+json"
META_KEY = "nbs_run"
SCHEMA = 2
#: environment variables that change what a notebook computes (part of the cache key)
DATA_ENV = ("NBS_CIFAR10_DIR", "NBS_SGEMM_CSV", "NBS_MAX_HOST_GB")
THREAD_ENV = ("NBS_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
DEFAULT_DEVICES = ("meta",)
SWEEP_ENV = "NBS_SWEEP_CLUSTER"
#: notebooks that time something: run after the others, one at a time, with nothing else running
EXCLUSIVE_FILE = ROOT / "ci" / "exclusive.txt"


class Interrupted(Exception):
    """The run was stopped by SIGINT/SIGTERM; ``reproduction.json`` is marked ``interrupted``."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


class StaleBuildError(RuntimeError):
    """``reproduction.json`` and the executed notebooks do not come from one complete run."""


# ---------------------------------------------------------------- table of contents
def _docnames(root: Path) -> list[str]:
    names = []
    for p in sorted((root / "book").rglob("*")):
        if p.suffix in (".ipynb", ".md") and "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts:
            names.append(p.relative_to(root).with_suffix("").as_posix())
    return names


def toc_documents(root: Path = ROOT) -> list[Path]:
    """Return every document listed in ``_toc.yml`` (``file:`` and ``glob:`` entries), in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    docs = _docnames(root)
    out: list[str] = []

    def add(entry):
        if isinstance(entry, dict):
            if "file" in entry:
                out.append(str(entry["file"]).removesuffix(".ipynb").removesuffix(".md"))
            if "glob" in entry:
                out.extend(d for d in docs if fnmatch.fnmatchcase(d, entry["glob"]) and d not in out)
            for key in ("parts", "chapters", "sections"):
                for e in entry.get(key, []) or []:
                    add(e)

    out.append(str(toc["root"]))
    add(toc)
    paths = []
    for d in out:
        for ext in (".ipynb", ".md"):
            if (root / (d + ext)).is_file():
                paths.append(root / (d + ext))
                break
        else:
            raise FileNotFoundError(f"_toc.yml lists {d!r} but neither {d}.ipynb nor {d}.md exists")
    return paths


def chapter_of(path: Path, root: Path = ROOT) -> str:
    """Return the chapter id of a notebook: ``000``…``004`` from its folder, else the folder name."""
    rel = Path(path).resolve().relative_to(root)
    folder = rel.parts[1] if len(rel.parts) > 2 and rel.parts[0] == "book" else rel.parts[0]
    return folder.split("_", 1)[0]


def toc_notebooks(root: Path = ROOT, chapter: str | None = None) -> list[Path]:
    """Return the notebooks (``.ipynb``) of ``_toc.yml``, optionally only those of ``chapter``."""
    nbs = [p for p in toc_documents(root) if p.suffix == ".ipynb"]
    if chapter is not None:
        nbs = [p for p in nbs if chapter_of(p, root) == chapter or p.parent.name == chapter]
    return nbs


# ---------------------------------------------------------------- parameters
def _read_nb(path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def notebook_parameters(path) -> dict | None:
    """Return the names and default values of a notebook's ``parameters`` cell (None without such a cell).

    The cell is parsed (never executed); a default that is not a Python literal is given as its source text.
    """
    nb = _read_nb(path)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in _tags(cell):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError as exc:
                raise ValueError(f"{path}: the parameters cell is not valid Python ({exc})") from None
            out = {}
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
                for t in targets:
                    if isinstance(t, ast.Name):
                        try:
                            out[t.id] = ast.literal_eval(node.value)
                        except ValueError:
                            out[t.id] = ast.get_source_segment(cell.source, node.value)
            return out
    return None


def check_parameters(path, params: dict | None, root: Path = ROOT) -> dict:
    """Return the parameters the notebook runs with (its defaults updated by ``params``).

    Raises ``ValueError`` naming the notebook and its known parameters when ``params`` holds a name the
    ``parameters`` cell does not declare (a typo such as ``widht`` would otherwise run at the defaults).
    """
    params = dict(params or {})
    declared = notebook_parameters(path)
    try:
        rel = Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        rel = str(path)
    if declared is None:
        if params:
            raise ValueError(f"{rel} has no parameters cell; it takes no parameters (got {sorted(params)})")
        return {}
    unknown = [k for k in params if k not in declared]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, list(declared), n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"unknown parameter {', '.join(hints)} for {rel}; its parameters are: "
                         + ", ".join(declared))
    return {**declared, **params}


# ---------------------------------------------------------------- small helpers
def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_nb(nb, path) -> None:
    import nbformat

    atomic_write_text(path, nbformat.writes(nb))


def versions() -> dict:
    """Return the versions that matter for the numbers: python, torch, numpy."""
    import numpy
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}


def git_commit(root: Path = ROOT) -> str:
    """Return the current git commit (with ``-dirty`` when the tree has changes), or ``unknown``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except Exception:
        return "unknown"


def library_hash(lib_dir: Path = LIB_DIR) -> str:
    """Return a hash of every source file under ``lib_dir`` (``nbs_lib/**``; caches and bytecode excluded)."""
    h = hashlib.sha256()
    for p in sorted(Path(lib_dir).rglob("*")):
        if not p.is_file() or "__pycache__" in p.parts or p.suffix in (".pyc", ".pyo") or p.name.startswith("."):
            continue
        h.update(p.relative_to(lib_dir).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def cache_key(path, parameters: dict, *, profile: str, device: str, lib_hash: str, threads: int,
              default_device: str | None = None) -> str:
    """Return the execution-cache key of a notebook run: code cells (with tags), parameters, profile,
    device, default device, threads, library sources, data environment and library versions."""
    nb = _read_nb(path)
    code = [[c.source, sorted(_tags(c))] for c in nb.cells if c.cell_type == "code"]
    payload = {"code": code, "parameters": parameters, "profile": profile, "device": device,
               "default_device": default_device, "threads": threads, "lib": lib_hash,
               "env": {k: os.environ.get(k) for k in DATA_ENV}, "versions": versions()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _merge_prose(source, cached):
    """Return ``cached`` (an executed notebook) with the Markdown/raw cells of ``source`` (code unchanged)."""
    import copy

    out = copy.deepcopy(cached)
    code = [c for c in cached.cells if c.cell_type == "code" and "injected-parameters" not in _tags(c)]
    injected = [c for c in cached.cells if "injected-parameters" in _tags(c)]
    cells, k = [], 0
    for cell in source.cells:
        if cell.cell_type == "code":
            cells.append(code[k])
            k += 1
            if "parameters" in _tags(cell) and injected:
                cells.extend(injected)
        else:
            cells.append(copy.deepcopy(cell))
    out.cells = cells
    return out


@contextlib.contextmanager
def _kernel_env(changes: dict):
    """Set (value) or remove (None) environment variables while a kernel starts; restore them afterwards.

    The kernel inherits this process's environment: headless mode and thread caps go in, and a
    ``TRITON_INTERPRET`` left by a test module stays out (notebooks choose their backend themselves).
    """
    saved = {k: os.environ.get(k) for k in changes}
    try:
        _set_env(changes)
        yield
    finally:
        _set_env(saved)


def _set_env(values: dict) -> None:
    """Set each variable of ``values`` to its value, or remove it where the value is None."""
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def make_ipython_dir(default_device: str, parent=None) -> str:
    """Return a temporary ``IPYTHONDIR`` whose startup file calls ``torch.set_default_device(default_device)``."""
    if default_device not in DEFAULT_DEVICES:
        raise ValueError(f"default_device must be one of {DEFAULT_DEVICES}, got {default_device!r}")
    d = tempfile.mkdtemp(prefix="nbs-ipython-", dir=parent)
    start = Path(d) / "profile_default" / "startup"
    start.mkdir(parents=True)
    (start / "00-default-device.py").write_text(
        f"import torch as _torch\n_torch.set_default_device({default_device!r})\ndel _torch\n")
    return d


def default_threads(device: str) -> int:
    """Return the per-kernel thread count used when ``--threads`` is not given: 1 on the CPU, else all cores.

    It never depends on ``--jobs``, so the same seed gives the same numbers whatever the parallelism.
    """
    from nbs_lib.device import resolve_device

    return 1 if resolve_device(device).type == "cpu" else max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------- execution of one notebook
def _error_of(nb) -> tuple[str, str]:
    """Return ``(description, first error line)`` of the first error output of an executed notebook."""
    for i, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                src = "".join(cell.get("source", "")).strip().splitlines()
                first = src[0][:60] if src else ""
                value = str(out.get("evalue") or "")
                line = f"{out.get('ename')}: {value.strip().splitlines()[0] if value.strip() else ''}"
                return f"cell {i} [{first}]: {out.get('ename')}: {value}", line
    return "", ""


def context_of(nb) -> dict | None:
    """Return the run-context payload (:data:`CONTEXT_MIME`) a notebook displayed, or None."""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            data = out.get("data") or {}
            if CONTEXT_MIME in data:
                payload = data[CONTEXT_MIME]
                return json.loads(payload) if isinstance(payload, str) else dict(payload)
    return None


def _rel(path, root: Path) -> str:
    return Path(path).resolve().relative_to(root).as_posix()


def _base_result(path, root, **extra) -> dict:
    return {"path": _rel(path, root), "chapter": chapter_of(path, root), "status": "error", "seconds": 0.0,
            "error": "", "error_line": "", "claims": [], "context": None, "parameters": {}, "cached": False,
            "cached_from": None, **extra}


def execute_notebook(path, *, profile: str = "cpu", device: str = "auto", out_root=BUILD / "executed",
                     timeout: int = 1800, params: dict | None = None, threads: int | None = None,
                     root: Path = ROOT, run_id: str | None = None, ipython_dir: str | None = None,
                     default_device: str | None = None, sweep_cluster: str | None = None) -> dict:
    """Execute one notebook with papermill; return its result (``path``, ``chapter``, ``status``, ``seconds``,
    ``error``, ``error_line``, ``claims``, ``context``, ``parameters``).

    Unknown parameter names fail before the kernel starts. The executed copy is written atomically under
    ``out_root`` at the notebook's path relative to ``root``, with ``metadata.nbs_run`` (run id, profile,
    parameters). ``default_device`` (``"meta"``) or an explicit ``ipython_dir`` sets torch's default device
    in the kernel through an IPython startup file. ``sweep_cluster`` (``local:N`` or ``tcp://HOST:PORT``)
    becomes the kernel's ``NBS_SWEEP_CLUSTER``, where ``nbs_lib.sweep.map`` runs its items; None leaves the
    variable this process has.
    """
    import papermill as pm

    path = Path(path).resolve()
    rel = _rel(path, root)
    res = _base_result(path, root)
    try:
        _profiles.check_profile(profile)
        parameters = {**check_parameters(path, params, root), "profile": profile, "device": device}
    except ValueError as exc:
        res.update(error=f"runner: {exc}", error_line=f"ValueError: {exc}")
        return res
    res["parameters"] = parameters
    passed = {"profile": profile, "device": device, **(params or {})}
    out = Path(out_root) / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.ipynb")
    env_threads = str(threads if threads else default_threads(device))
    own_dir = None
    if default_device and not ipython_dir:
        ipython_dir = own_dir = make_ipython_dir(default_device)
    env = {k: env_threads for k in THREAD_ENV}
    env.update({"NBS_HEADLESS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1", "TRITON_INTERPRET": None,
                "PYTHONHASHSEED": "0"})
    if ipython_dir:
        env["IPYTHONDIR"] = str(ipython_dir)
    if sweep_cluster is not None:
        env[SWEEP_ENV] = sweep_cluster
    t0 = time.time()
    status, error, line = "ok", "", ""
    try:
        with _kernel_env(env):
            try:
                pm.execute_notebook(str(path), str(tmp), parameters=passed, cwd=str(path.parent),
                                    kernel_name="python3", progress_bar=False, log_output=False,
                                    execution_timeout=timeout, report_mode=False,
                                    request_save_on_cell_execute=False)
            except Exception as exc:  # papermill's execution error, timeouts, kernel deaths
                status = "error"
                text = str(exc).strip()
                error = f"{type(exc).__name__}: {text.splitlines()[-1] if text else ''}"
                line = error
    finally:
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)
    res["seconds"] = round(time.time() - t0, 2)
    if tmp.is_file():
        nb = _read_nb(tmp)
        if status == "error":
            e, first = _error_of(nb)
            error, line = (e or error), (first or line)
        res["claims"] = _claims.from_notebook(nb)
        res["context"] = context_of(nb)
        nb.metadata[META_KEY] = {"run_id": run_id, "profile": profile, "device": device, "parameters": parameters,
                                 "default_device": default_device}
        _write_nb(nb, out)
        tmp.unlink()
    elif status == "ok":
        status, error, line = "error", "papermill wrote no output notebook", "papermill wrote no output notebook"
    for c in res["claims"]:
        c["notebook"] = rel
    if status == "ok" and any(c.get("diverged") for c in res["claims"]):
        status = "diverged"
    res.update(status=status, error=error, error_line=line)
    return res


def _worker_init():
    # A terminal's Ctrl-C reaches the whole foreground group: the parent decides, the workers ignore it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker(kw):
    return execute_notebook(**{k: v for k, v in kw.items() if not k.startswith("_")})


# ---------------------------------------------------------------- processes and signals
def _descendants():
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return []
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:  # pragma: no cover
        return []


def kill_descendants(grace: float = 3.0) -> None:
    """End every process this one started (workers, their kernels and the kernels' own process groups)."""
    import psutil

    procs = _descendants()
    mine = os.getpgrp()
    for p in procs:
        with contextlib.suppress(Exception):
            pg = os.getpgid(p.pid)
            if pg == p.pid and pg != mine:  # a kernel in its own session: end its whole group
                os.killpg(pg, signal.SIGTERM)
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with contextlib.suppress(Exception):
            pg = os.getpgid(p.pid)
            if pg == p.pid and pg != mine:
                os.killpg(pg, signal.SIGKILL)
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=grace)


@contextlib.contextmanager
def _signals_raise():
    """Turn SIGINT/SIGTERM into :class:`Interrupted` in the main thread while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _execute_all(tasks: list[dict], jobs: int, on_result) -> None:
    """Run ``execute_notebook(**task)`` for each task on ``jobs`` worker processes; call ``on_result``.

    On SIGINT/SIGTERM every worker and kernel is ended and :class:`Interrupted` propagates.
    """
    if not tasks:
        return
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init)
    clean = False
    try:
        with _signals_raise():
            futs = {pool.submit(_worker, t): t for t in tasks}
            for fut in cf.as_completed(futs):
                t = futs[fut]
                try:
                    r = fut.result()
                except Exception as exc:
                    r = _base_result(t["path"], t["root"], error=f"runner: {exc}", error_line=f"runner: {exc}")
                on_result(t, r)
            clean = True
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:
            saved = {}
            for s in (signal.SIGINT, signal.SIGTERM):  # a second signal must not stop the cleaning
                with contextlib.suppress(ValueError):
                    saved[s] = signal.signal(s, signal.SIG_IGN)
            try:
                kill_descendants()
                pool.shutdown(wait=False, cancel_futures=True)
            finally:
                for s, h in saved.items():
                    signal.signal(s, h)


# ---------------------------------------------------------------- a run
def exclusive_notebooks(path: Path = EXCLUSIVE_FILE) -> list[str]:
    """Return the repository-relative paths listed in ``ci/exclusive.txt`` (the notebooks run alone)."""
    if not Path(path).is_file():
        return []
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


LONG_FIRST_FILE = ROOT / "ci" / "long_first.txt"


def long_first(tasks: list[dict], path: Path = LONG_FIRST_FILE) -> list[dict]:
    """Return ``tasks`` with the notebooks listed in ``ci/long_first.txt`` first, in the file's order.

    The pool hands notebooks to free workers in order; starting the longest ones first keeps the last worker
    from running a long notebook alone at the end (longest-first scheduling). Results do not depend on it.
    """
    names = exclusive_notebooks(path)
    rank = {n: i for i, n in enumerate(names)}
    return sorted(tasks, key=lambda t: rank.get(_rel(t["path"], Path(t["root"])), len(rank)))


def split_exclusive(tasks: list[dict], exclusive) -> tuple[list[dict], list[dict]]:
    """Return ``(pool, alone)``: the tasks whose notebook's path relative to its root is in ``exclusive`` go
    to ``alone`` (in the order of ``tasks``), the others to ``pool``."""
    names = set(exclusive or ())
    pool, alone = [], []
    for t in tasks:
        (alone if _rel(t["path"], Path(t["root"])) in names else pool).append(t)
    return pool, alone


def device_description(device: str) -> str:
    """Return what ``device`` resolves to here, e.g. ``"cpu"`` or ``"cuda (NVIDIA H100 80GB HBM3)"``."""
    import torch

    from nbs_lib.device import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return "cpu"


def _notebook_device(r: dict, requested: str) -> tuple[str, str]:
    ctx = r.get("context")
    if ctx and ctx.get("device"):
        return str(ctx["device"]), "context"
    return requested, "requested (the notebook does not announce its run context)"


def derive_device(notebooks: list[dict], requested: str) -> str:
    """Return the run's device from the notebooks' own devices (e.g. ``cpu``, or ``mixed: cpu ×3, cuda:0 ×2``)."""
    devs = [n["device"] for n in notebooks if n.get("device_source") == "context"]
    if not devs:
        return f"{requested} (requested; no notebook announced its device)"
    kinds = sorted(set(devs))
    text = kinds[0] if len(kinds) == 1 else "mixed: " + ", ".join(f"{k} ×{devs.count(k)}" for k in kinds)
    unknown = sum(n.get("device_source") != "context" for n in notebooks)
    return text + (f" ({unknown} notebook(s) without a run context: {requested} requested)" if unknown else "")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _notebook_record(r: dict, requested: str, run: dict) -> dict:
    dev, src = _notebook_device(r, requested)
    ctx = r.get("context") or {}
    params = r.get("parameters") or {}
    return {"path": r["path"], "chapter": r["chapter"], "status": r["status"], "seconds": r["seconds"],
            "error": r["error"], "error_line": r.get("error_line", ""), "parameters": params,
            "profile": ctx.get("profile", params.get("profile", run["profile"])), "device": dev,
            "device_source": src, "seed": ctx.get("seed", params.get("seed")), "threads": ctx.get("threads"),
            "versions": r.get("versions") or run["versions"], "commit": r.get("commit") or run["git_commit"],
            "run_id": run["run_id"], "cached": bool(r.get("cached")), "cached_from": r.get("cached_from"),
            "cache_key": r.get("cache_key"), "n_claims": len(r.get("claims") or [])}


_CLAIM_KEYS = ("id", "chapter", "notebook", "paper_ref", "paper_says", "measured", "values", "verdict",
               "expected_verdict", "kind", "criterion", "source", "reason", "diverged", "data", "why")


def _write_report(out: Path, run: dict, results: list[dict], status: str, requested: str) -> dict:
    nbs = [_notebook_record(r, requested, run) for r in results]
    failed = {r["path"] for r in results if r["status"] == "error"}
    report = {**run, "status": status, "finished": _now() if status != "running" else None,
              "device": derive_device(nbs, requested) if nbs else requested, "notebooks": nbs,
              "claims": [{k: c.get(k) for k in _CLAIM_KEYS}
                         | {"needs": c.get("needs", "smoke"), "from_failed": r["path"] in failed,
                            "cached": bool(r.get("cached"))}
                         for r in results for c in r["claims"]]}
    atomic_write_text(Path(out) / "reproduction.json", json.dumps(report, indent=1, ensure_ascii=False))
    return report


def _cache_load(cache_dir: Path, key: str, path: Path, rel: str, out_exec: Path, run_id: str) -> dict | None:
    meta, nbfile = cache_dir / f"{key}.json", cache_dir / f"{key}.ipynb"
    if not (meta.is_file() and nbfile.is_file()):
        return None
    try:
        r = json.loads(meta.read_text())
        nb = _merge_prose(_read_nb(path), _read_nb(nbfile))
    except Exception:
        return None
    nb.metadata.setdefault(META_KEY, {})
    nb.metadata[META_KEY].update(run_id=run_id, cached_from=r.get("run_id"))
    _write_nb(nb, out_exec / rel)
    r.update(cached=True, cached_from=r.get("run_id"), cache_key=key)
    return r


def _cache_store(cache_dir: Path, key: str, r: dict, executed: Path, run: dict) -> None:
    if r["status"] == "error" or not executed.is_file():
        return
    shutil.copyfile(executed, cache_dir / f".{key}.ipynb.tmp")
    os.replace(cache_dir / f".{key}.ipynb.tmp", cache_dir / f"{key}.ipynb")
    keep = {k: v for k, v in r.items() if k not in ("cached", "cached_from")}
    keep.update(run_id=run["run_id"], commit=run["git_commit"], versions=run["versions"])
    atomic_write_text(cache_dir / f"{key}.json", json.dumps(keep, ensure_ascii=False))


def run(paths, *, profile="cpu", device="auto", jobs=None, out=BUILD, timeout=1800, params=None, root=ROOT,
        threads: int | None = None, cache: bool = True, default_device: str | None = None,
        seed: int | None = None, cluster: str | None = None, sweep_cluster: str | None = None,
        exclusive=None) -> dict:
    """Execute ``paths`` in parallel, write ``out/reproduction.json`` and return its content.

    The notebooks named in ``exclusive`` (repository-relative paths; default: ``ci/exclusive.txt``) run after
    all the others, one at a time with nothing else running: their timings are not taken under load.
    ``sweep_cluster`` sets ``NBS_SWEEP_CLUSTER`` for the kernels (where ``nbs_lib.sweep.map`` runs); on a
    ``cluster`` the kernels use that cluster unless it is given.

    Parameters are checked against every notebook before any kernel starts (``ValueError``). On SIGINT or
    SIGTERM the kernels and workers are ended, ``reproduction.json`` is written with ``status:
    interrupted`` and :class:`Interrupted` is raised.
    """
    profile = _profiles.check_profile(profile)
    if cluster:  # the workers choose the device: on a cluster the client needs no GPU of its own
        from ci import cluster as _cluster

        _cluster.parse_address(cluster)
        dev_desc = f"{device} (on the cluster {cluster})"
    else:
        dev_desc = device_description(device)  # fails early, with a clear message, on device="cuda" without a GPU
    if default_device is not None and default_device not in DEFAULT_DEVICES:
        raise ValueError(f"default_device must be one of {DEFAULT_DEVICES}, got {default_device!r}")
    if sweep_cluster is not None:
        from nbs_lib import sweep as _sweep

        _sweep.parse(sweep_cluster)
    exclusive = exclusive_notebooks() if exclusive is None else list(exclusive)
    params = dict(params or {})
    for k in ("profile", "device"):
        if k in params:
            raise ValueError(f"give {k} with --{k}, not as a -p parameter")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        params["seed"] = seed
    paths = [Path(p).resolve() for p in paths]
    effective = {p: {**check_parameters(p, params, root), "profile": profile, "device": device} for p in paths}
    jobs = jobs or max(1, min(len(paths), (os.cpu_count() or 2)))
    if dev_desc.startswith("cuda"):
        jobs = 1  # one GPU: run notebooks one after another
    threads = threads or default_threads(device)
    out = Path(out)
    out_exec = out / "executed"
    cache_dir = out / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    run_id = f"{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    run_info = {"schema": SCHEMA, "run_id": run_id,
                "started": _now(), "profile": profile, "device_requested": device, "default_device": default_device,
                "seed": seed, "threads": threads, "jobs": jobs, "git_commit": git_commit(root),
                "versions": versions(), "cache": cache, "library_hash": library_hash(), "parameters": params}
    results: dict[Path, dict] = {}
    _write_report(out, run_info, [], "running", dev_desc)  # a previous complete report is never left behind

    ipython_dir = make_ipython_dir(default_device, out) if default_device else None
    base = dict(profile=profile, device=device, out_root=out_exec, timeout=timeout, params=params, threads=threads,
                root=root, run_id=run_info["run_id"], ipython_dir=ipython_dir, default_device=default_device,
                sweep_cluster=sweep_cluster)
    tasks = []
    for p in paths:
        rel = _rel(p, root)
        key = cache_key(p, effective[p], profile=profile, device=f"{device} -> {dev_desc}",
                        lib_hash=run_info["library_hash"], threads=threads, default_device=default_device)
        hit = _cache_load(cache_dir, key, p, rel, out_exec, run_info["run_id"]) if cache else None
        if hit is not None:
            results[p] = hit
            print(f"[ok ] {rel}  (cached from run {hit.get('cached_from')})", flush=True)
        else:
            stale = out_exec / rel  # an executed copy of an earlier run must not pass for this run's
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
            tasks.append({**base, "path": p, "_key": key})

    def on_result(task, r):
        r["cache_key"] = task["_key"]
        results[task["path"]] = r
        flag = {"ok": "ok ", "diverged": "DIV"}.get(r["status"], "ERR")
        print(f"[{flag}] {r['path']}  {r['seconds']:.1f}s" + (f"  {r['error']}" if r["error"] else ""), flush=True)
        with contextlib.suppress(OSError):  # stored even with cache=False: a forced run refreshes the cache
            _cache_store(cache_dir, task["_key"], r, out_exec / r["path"], run_info)

    def ordered(fill_missing: bool):
        rs = []
        for p in paths:
            if p in results:
                rs.append(results[p])
            elif fill_missing:
                rs.append(_base_result(p, root, status="interrupted", error="not finished: the run was interrupted",
                                       parameters=effective[p]))
        return rs

    pool, alone = split_exclusive(long_first(tasks), exclusive)
    try:
        if cluster:
            from ci import cluster as _cluster

            _cluster.execute_tasks(pool, spec=cluster, on_result=on_result, exclusive=alone)
        else:
            _execute_all(pool, jobs, on_result)
            _execute_all(alone, 1, on_result)  # after the pool has ended, one at a time: nothing else runs
    except Interrupted as exc:
        for tmp in out_exec.rglob(".*.tmp.ipynb"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        _write_report(out, run_info, ordered(True), "interrupted", dev_desc)
        print(f"\ninterrupted ({signal.Signals(exc.signum).name}): {len(results)} of {len(paths)} notebooks finished; "
              f"{out / 'reproduction.json'} is marked interrupted", file=sys.stderr, flush=True)
        raise
    finally:
        if ipython_dir:
            shutil.rmtree(ipython_dir, ignore_errors=True)
    return _write_report(out, run_info, ordered(False), "complete", dev_desc)


def run_cases(cases, *, profile: str = "smoke", device: str = "cpu", out, jobs: int | None = None,
              timeout: int = 600, root: Path = ROOT) -> list[dict]:
    """Run bad-input cases ``[(notebook, params), ...]``, each on its own, in parallel; return one result each.

    ``params`` may hold ``profile`` and ``device`` (they replace the defaults). A case the runner refuses
    (unknown parameter name, bad profile or device) never starts a kernel. Each result has ``exit`` (what
    ``python -m ci.runner`` would return for that case alone), ``error_line`` and ``claims``.
    """
    out = Path(out)
    results: list[dict | None] = [None] * len(cases)
    tasks = []
    for i, (nb, params) in enumerate(cases):
        params = dict(params or {})
        prof, dev = params.pop("profile", profile), params.pop("device", device)
        path = Path(nb) if Path(nb).is_absolute() else root / nb
        try:
            _profiles.check_profile(prof)
            device_description(dev)
            check_parameters(path, params, root)
        except ValueError as exc:
            results[i] = _base_result(path, root, error=f"runner: {exc}", error_line=f"ValueError: {exc}")
            continue
        tasks.append(dict(path=path.resolve(), profile=prof, device=dev, out_root=out / f"case-{i:03d}",
                          timeout=timeout, params=params, threads=1, root=root, run_id=f"case-{i}", _i=i))
    by_task = {}

    def on_result(task, r):
        by_task[task["_i"]] = r

    jobs = jobs or max(1, min(len(tasks), os.cpu_count() or 2))
    _execute_all(tasks, jobs, on_result)  # _worker drops the private '_i'
    for i, r in by_task.items():
        results[i] = r
    for r in results:
        r["exit"] = 2 if r["error"].startswith("runner:") else (0 if r["status"] == "ok" else 1)
    return results


# ---------------------------------------------------------------- reading a run back
def load_report(out=BUILD, *, check_executed: bool = True) -> dict:
    """Return ``out/reproduction.json`` if it describes one complete run whose executed notebooks are its own.

    Raises :class:`StaleBuildError` when the file is missing, the run is not complete (running or
    interrupted), or an executed notebook is missing or carries another run id.
    """
    out = Path(out)
    path = out / "reproduction.json"
    if not path.is_file():
        raise StaleBuildError(f"{path} is missing: run the notebooks first (python -m ci.runner)")
    report = json.loads(path.read_text())
    rid = report.get("run_id")
    if rid is None:
        raise StaleBuildError(f"{path} has no run id (written by an older runner): run the notebooks again")
    if report.get("status") != "complete":
        raise StaleBuildError(f"{path} is from run {rid}, which is {report.get('status')!r}, not complete: "
                              "run the notebooks again")
    if check_executed:
        bad = []
        for n in report["notebooks"]:
            f = out / "executed" / n["path"]
            if not f.is_file():
                bad.append(f"{n['path']} (no executed copy)")
                continue
            other = (_read_nb(f).metadata.get(META_KEY) or {}).get("run_id")
            if other != rid:
                bad.append(f"{n['path']} (from run {other})")
        if bad:
            raise StaleBuildError(f"the executed notebooks do not come from run {rid} of {path}: " + "; ".join(bad)
                                  + ". Run the notebooks again (python -m ci.runner) instead of --no-execute")
    return report


def mismatches(report: dict) -> list[dict]:
    """Return the claims of completed notebooks whose verdict is not the expected one at the report's profile
    (a diverged claim is always a mismatch); claims from failed notebooks are counted apart."""
    bad = []
    for c in report["claims"]:
        if c.get("from_failed"):
            continue
        claim = _claims.Claim(id=c["id"], chapter=c["chapter"], paper_ref="", paper_says="", measured="",
                              verdict=c["verdict"], expected_verdict=c["expected_verdict"], profile=report["profile"],
                              needs=c.get("needs", "smoke"), diverged=bool(c.get("diverged")))
        if not claim.matches_expected():
            bad.append(c)
    return bad


def summarize(report: dict) -> int:
    """Print failures, divergences and verdict mismatches; return the number of problems."""
    nbs = report["notebooks"]
    failed = [n for n in nbs if n["status"] not in ("ok", "diverged")]
    diverged = [n for n in nbs if n["status"] == "diverged"]
    bad = mismatches(report)
    from_failed = [c for c in report["claims"] if c.get("from_failed")]
    graded = len(report["claims"]) - len(from_failed)
    cached = sum(bool(n.get("cached")) for n in nbs)
    total = sum(n["seconds"] for n in nbs if not n.get("cached"))
    state = report.get("status", "complete")
    head = (f"\n{len(nbs)} notebooks at profile '{report['profile']}' on {report['device']}"
            + (f" ({cached} from the cache)" if cached else "") + f": {len(failed)} failed, {len(diverged)} diverged; "
            f"{graded} claims from completed notebooks, ")
    if failed:
        head += (f"unexpected verdicts: not known ({len(failed)} notebook(s) failed; at least {len(bad)} unexpected; "
                 f"{len(from_failed)} claims from failed notebooks counted apart)")
    else:
        head += f"{len(bad)} with an unexpected verdict"
    print(head + f"; {total:.0f} s of notebook time" + (" (cached notebooks not counted)" if cached else "")
          + ("" if state == "complete" else f" — run {state.upper()}"))
    for n in failed:
        print(f"  FAILED {n['path']}: {n['error']}")
    for n in diverged:
        ids = [c["id"] for c in report["claims"] if c["notebook"] == n["path"] and c.get("diverged")]
        print(f"  DIVERGED {n['path']}: non-finite metrics in {', '.join(ids)}")
    for c in bad:
        why = f" ({c.get('reason')})" if c.get("reason") else ""
        print(f"  VERDICT {c['id']} ({c['notebook']}): got '{c['verdict']}'{why}, expected '{c['expected_verdict']}'")
    return len(failed) + len(diverged) + len(bad)


def infer_root(paths, root: Path = ROOT) -> Path:
    """Return ``root`` when every path lies under it, else the folder above the ``book`` folder the paths share
    (so that notebooks of another checkout or a test's temporary book keep their ``book/...`` paths)."""
    paths = [Path(p).resolve() for p in paths]
    if all(p.is_relative_to(root) for p in paths):
        return root
    roots = set()
    for p in paths:
        parts = p.parts
        idx = [i for i, part in enumerate(parts) if part == "book"]
        roots.add(Path(*parts[:idx[-1]]) if idx else p.parent)
    if len(roots) != 1:
        raise ValueError("notebooks outside this repository must share one book/ folder, got " +
                         ", ".join(sorted(map(str, roots))))
    return roots.pop()


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ci.runner", description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="notebooks to run (default: every notebook in _toc.yml)")
    ap.add_argument("--profile", default="cpu", help="smoke | cpu | paper (gpu)")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--chapter", help="only this chapter's notebooks (e.g. 000, intro)")
    ap.add_argument("--jobs", type=int, help="notebooks run in parallel (default: one per core; 1 on a GPU)")
    ap.add_argument("--threads", type=int, help="torch/BLAS threads per kernel, whatever --jobs "
                                                "(default: 1 on the CPU, all cores on a GPU)")
    ap.add_argument("--seed", type=int, help="pass seed=SEED to every notebook (default: each notebook's own)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ap.add_argument("--out", default=str(BUILD), help="output folder (default _build)")
    ap.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                    help="notebook parameter (JSON value), e.g. -p width 64; unknown names are refused")
    ap.add_argument("--no-cache", action="store_true",
                    help="execute every notebook even when its cached copy is valid (the cache is still refreshed)")
    ap.add_argument("--default-device", choices=DEFAULT_DEVICES,
                    help="torch's default device in the kernels (meta: proves every tensor gets an explicit device)")
    ap.add_argument("--no-check-verdicts", action="store_true", help="do not fail on unexpected verdicts")
    ap.add_argument("--cluster", help="run the notebooks as Dask tasks: local:N (a LocalCluster of N one-thread "
                                      "workers) or tcp://HOST:8786 (an existing scheduler); see ci/cluster.py")
    ap.add_argument("--sweep-cluster", help="where nbs_lib.sweep.map runs a notebook's sweep items: local:N or "
                                            "tcp://HOST:PORT (sets NBS_SWEEP_CLUSTER in the kernels; with --cluster "
                                            "the default is that cluster)")
    ap.add_argument("--plan", action="store_true", help="print the resource plan (ci/plan.py) and run nothing")
    ap.add_argument("--gpu-mem", default="80GB", help="with --plan: the GPU memory to plan for")
    ap.add_argument("--host-mem", default="64GB", help="with --plan: the host memory to plan for")
    a = ap.parse_args(argv)
    if a.plan:
        from ci import plan as _plan

        extra = [str(p) for p in a.paths] + (["--chapter", a.chapter] if a.chapter else [])
        return _plan.main(["--profile", a.profile, "--device", a.device, "--gpu-mem", a.gpu_mem,
                           "--host-mem", a.host_mem] + extra)
    try:
        _profiles.check_profile(a.profile)
        if a.sweep_cluster is not None:
            from nbs_lib import sweep as _sweep

            _sweep.parse(a.sweep_cluster)
        if a.cluster:
            from ci import cluster as _cluster

            _cluster.parse_address(a.cluster)
        else:
            device_description(a.device)
        if a.threads is not None and a.threads < 1:
            raise ValueError(f"--threads must be an integer >= 1, got {a.threads}")
        if a.jobs is not None and a.jobs < 1:
            raise ValueError(f"--jobs must be an integer >= 1, got {a.jobs}")
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = [Path(p).resolve() for p in a.paths] if a.paths else toc_notebooks(ROOT, a.chapter)
    for p in paths:
        if not p.is_file() or p.suffix != ".ipynb":
            print(f"error: notebook not found: {p}", file=sys.stderr)
            return 2
    if not paths:
        print("error: no notebooks selected", file=sys.stderr)
        return 2
    try:
        report = run(paths, profile=a.profile, device=a.device, jobs=a.jobs, out=Path(a.out), timeout=a.timeout,
                     params={k: _parse_value(v) for k, v in a.param}, threads=a.threads, cache=not a.no_cache,
                     default_device=a.default_device, seed=a.seed, root=infer_root(paths), cluster=a.cluster,
                     sweep_cluster=a.sweep_cluster)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        return 128 + exc.signum
    problems = summarize(report)
    broken = any(n["status"] != "ok" for n in report["notebooks"])
    return 1 if broken or (problems and not a.no_check_verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
