"""nbs_lib.native: C sources compiled once per machine and loaded with ctypes, or None with a warning."""
import ctypes
import shutil

import pytest

from nbs_lib import native

SRC = "long long add3(long long a, long long b, long long c) { return a + b + c; }\n"
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NBS_NATIVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_LOADED", {})
    return tmp_path / "cache"


def _lib_add3(lib):
    f = lib.add3
    f.restype, f.argtypes = ctypes.c_longlong, [ctypes.c_longlong] * 3
    return f


@needs_cc
def test_load_compiles_once_and_calls_into_c(tmp_path, cache, monkeypatch):
    src = tmp_path / "k.c"
    src.write_text(SRC)
    lib = native.load(src)
    assert _lib_add3(lib)(2, 3, -40) == -35
    built = sorted(cache.glob("k-*.so"))
    assert len(built) == 1
    # a new process (empty in-memory table) reuses the cached library: no compiler is needed any more
    monkeypatch.setattr(native, "_LOADED", {})
    monkeypatch.setenv("CC", "cc")
    monkeypatch.setattr(native.subprocess, "run", lambda *a, **k: pytest.fail("recompiled a cached source"))
    assert _lib_add3(native.load(src))(1, 1, 1) == 3
    # a changed source is a new library
    monkeypatch.undo()
    monkeypatch.setenv("NBS_NATIVE_CACHE", str(cache))
    monkeypatch.setattr(native, "_LOADED", {})
    src.write_text(SRC.replace("a + b + c", "a * b * c"))
    assert _lib_add3(native.load(src))(2, 3, 4) == 24
    assert len(sorted(cache.glob("k-*.so"))) == 2


def test_no_compiler_warns_and_returns_none(tmp_path, cache, monkeypatch):
    src = tmp_path / "k.c"
    src.write_text(SRC)
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.warns(UserWarning, match="no C compiler"):
        assert native.load(src) is None
    assert not cache.exists() or not list(cache.glob("*.so"))


@needs_cc
def test_compile_error_warns_with_the_compiler_message(tmp_path, cache):
    src = tmp_path / "bad.c"
    src.write_text("int f( { return 0; }\n")
    with pytest.warns(UserWarning, match="failed on bad.c"):
        assert native.load(src) is None
    assert not list(cache.glob("*"))  # no partial library left behind


def test_switch_off_and_bad_setting(tmp_path, cache, monkeypatch):
    src = tmp_path / "k.c"
    src.write_text(SRC)
    monkeypatch.setenv("NBS_NATIVE", "0")
    assert native.load(src) is None
    monkeypatch.setenv("NBS_NATIVE", "yes")
    with pytest.raises(ValueError, match="NBS_NATIVE"):
        native.load(src)


@needs_cc
def test_unwritable_cache_builds_in_a_temporary_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NBS_NATIVE_CACHE", str(blocker / "cache"))   # mkdir fails: a file is in the way
    monkeypatch.setattr(native, "_LOADED", {})
    src = tmp_path / "k.c"
    src.write_text(SRC)
    assert _lib_add3(native.load(src))(4, 5, 6) == 15
