"""Compiled CPU kernels: C sources built once per machine with the system C compiler and loaded with ctypes.

The GPU kernels of the book are Triton (``nbs_lib.gpu``); a few CPU hot paths that torch has no fast operator
for are small C files beside their chapter's code (e.g. ``gated/gated_gemv.c``). :func:`load` compiles such a
file with ``$CC`` (default ``cc``) at ``-O3 -march=native`` into a cache folder (``$NBS_NATIVE_CACHE``, default
``~/.cache/nbs_lib/native``; a temporary folder when that cannot be written), keyed by the source, the
compiler, its flags and this CPU's feature flags, and returns the loaded library, or ``None`` when there is no
working compiler (a warning says why, once) or ``NBS_NATIVE=0``. Every caller keeps a torch reference and falls
back to it on ``None``.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

FLAGS = ("-O3", "-march=native", "-std=c99", "-shared", "-fPIC")
_LOADED: dict = {}


def enabled() -> bool:
    """Return False when ``NBS_NATIVE`` is ``0`` (compiled kernels switched off; callers use torch)."""
    v = os.environ.get("NBS_NATIVE", "1")
    if v not in ("0", "1"):
        raise ValueError(f"NBS_NATIVE must be 0 or 1, got {v!r}")
    return v == "1"


def cache_dir() -> Path:
    """Return the folder of compiled libraries (``$NBS_NATIVE_CACHE`` or ``~/.cache/nbs_lib/native``)."""
    return Path(os.environ.get("NBS_NATIVE_CACHE") or Path.home() / ".cache" / "nbs_lib" / "native")


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def load(source: Path | str) -> ctypes.CDLL | None:
    """Return the library built from the C file ``source`` (cached), or ``None`` with a warning if it cannot be built."""
    if not enabled():
        return None
    source = Path(source)
    cc = os.environ.get("CC", "cc")
    key = (str(source), cc)
    if key in _LOADED:
        return _LOADED[key]
    text = source.read_bytes()
    tag = hashlib.sha256(b"\0".join([text, cc.encode(), " ".join(FLAGS).encode(), platform.machine().encode(),
                                     _cpu_flags().encode()])).hexdigest()[:16]
    lib_path = cache_dir() / f"{source.stem}-{tag}.so"
    lib = None
    try:
        if not lib_path.exists():
            if shutil.which(cc) is None:
                raise OSError(f"no C compiler {cc!r} on PATH (set CC)")
            try:
                lib_path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib_path.parent)
            except OSError:  # a read-only home: build in the temporary folder instead (this process only)
                lib_path = Path(tempfile.mkdtemp(prefix="nbs_lib-native-")) / lib_path.name
                fd, tmp = tempfile.mkstemp(suffix=".so", dir=lib_path.parent)
            os.close(fd)
            try:
                done = subprocess.run([cc, *FLAGS, "-o", tmp, str(source)], capture_output=True, text=True, timeout=120)
                if done.returncode:
                    raise OSError(f"{cc} failed on {source.name}: {done.stderr.strip()[-400:]}")
                os.replace(tmp, lib_path)  # atomic: concurrent builds of the same source both end with a whole file
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        lib = ctypes.CDLL(str(lib_path))
    except (OSError, subprocess.SubprocessError) as err:
        warnings.warn(f"compiled CPU kernel {source.name} unavailable, using the torch reference: {err}", stacklevel=2)
    _LOADED[key] = lib
    return lib
