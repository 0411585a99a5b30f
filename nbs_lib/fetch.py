"""Download the real data sets where a network exists: CIFAR-10 and UCI SGEMM.

    python -m nbs_lib.fetch cifar10 [--dir DIR]     # prints: export NBS_CIFAR10_DIR=DIR/cifar-10-batches-py
    python -m nbs_lib.fetch sgemm   [--dir DIR]     # prints: export NBS_SGEMM_CSV=DIR/sgemm_product.csv

(``python -m nbs_lib.data fetch …`` is the same command.) The archive is streamed to a temporary file
beside the destination, its length and checksum verified, and it is unpacked into a temporary folder that
is renamed into place only when everything succeeded: a failed, partial or corrupt download never leaves a
file where the loaders would find it.

Checksums: CIFAR-10's MD5 is the one published on the data set's page. UCI publishes none for SGEMM: the
archive is checked by content instead (``sgemm_product.csv`` with its header and 241,600 rows), and its
SHA-256 is printed so that a second machine can be checked against the first.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """Where a data set comes from, how to check it and which variable points the book at it."""

    name: str
    url: str
    md5: str | None
    env: str
    member: str            # the folder or file, inside the archive, that the variable points at
    rows: int | None = None  # for a CSV: data rows expected


SOURCES = {
    "cifar10": Source("cifar10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                      "c58f30108f718f92721af3b95e74349a", "NBS_CIFAR10_DIR", "cifar-10-batches-py"),
    "sgemm": Source("sgemm", "https://archive.ics.uci.edu/static/public/440/sgemm+gpu+kernel+performance.zip",
                    None, "NBS_SGEMM_CSV", "sgemm_product.csv", rows=241600),
}


class FetchError(RuntimeError):
    """A download failed: no network, a wrong checksum, a partial file, an archive without the data."""


def _download(url: str, dest: Path, timeout: float) -> tuple[str, str]:
    """Stream ``url`` to ``dest``; return (md5, sha256). Raise FetchError on network errors or a short body."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as f:
            length = resp.headers.get("Content-Length")
            got = 0
            while True:
                block = resp.read(1 << 20)
                if not block:
                    break
                f.write(block)
                md5.update(block)
                sha.update(block)
                got += len(block)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise FetchError(f"could not download {url}: {getattr(exc, 'reason', exc)} (no network here? download "
                         "the archive on a machine that has one and pass it with --archive)") from None
    if length is not None and got != int(length):
        raise FetchError(f"partial download of {url}: {got} of {length} bytes; nothing was kept, try again")
    return md5.hexdigest(), sha.hexdigest()


def _digests(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def _unpack(archive: Path, into: Path) -> None:
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    target = (into / info.filename).resolve()
                    if not str(target).startswith(str(into.resolve())):
                        raise FetchError(f"{archive.name}: unsafe path {info.filename!r} in the archive")
                z.extractall(into)
                for inner in [p for p in into.rglob("*.zip")]:   # UCI nests the CSV in a second zip
                    with zipfile.ZipFile(inner) as z2:
                        z2.extractall(inner.parent)
        else:
            with tarfile.open(archive) as t:
                t.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise FetchError(f"{archive.name} is not a readable archive ({exc}); nothing was kept") from None


def _check_member(src: Source, found: Path) -> None:
    if src.rows is None:
        return
    with open(found) as f:
        n = sum(1 for _ in f) - 1
    if n != src.rows:
        raise FetchError(f"{found.name} holds {n} data rows, {src.rows} expected; nothing was kept")


def fetch(name: str, dest: str | os.PathLike, *, url: str | None = None, md5: str | None = None,
          archive: str | os.PathLike | None = None, timeout: float = 60.0) -> Path:
    """Download (or take ``archive``), verify and unpack data set ``name`` under ``dest``; return its path.

    ``url``/``md5`` override the official ones (tests serve a small archive on 127.0.0.1).
    """
    if name not in SOURCES:
        raise ValueError(f"name must be one of {tuple(SOURCES)}, got {name!r}")
    src = SOURCES[name]
    want_md5 = md5 if md5 is not None else (src.md5 if url is None else None)
    dest = Path(dest).expanduser()
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / src.member
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=dest) as tmp:
        tmp = Path(tmp)
        if archive is not None:
            arc = Path(archive)
            if not arc.is_file():
                raise FetchError(f"--archive {arc} is not a file")
            got_md5, got_sha = _digests(arc)
        else:
            arc = tmp / "download"
            got_md5, got_sha = _download(url or src.url, arc, timeout)
        if want_md5 is not None and got_md5 != want_md5:
            raise FetchError(f"wrong checksum for {name}: MD5 {got_md5}, published {want_md5}; the download was "
                             "removed")
        unpacked = tmp / "unpacked"
        unpacked.mkdir()
        _unpack(arc, unpacked)
        hits = sorted(unpacked.rglob(src.member))
        if not hits:
            raise FetchError(f"the archive holds no {src.member}; nothing was kept")
        _check_member(src, hits[0])
        if final.exists():
            shutil.rmtree(final) if final.is_dir() else final.unlink()
        os.replace(hits[0], final)
    print(f"{name}: verified (MD5 {got_md5}, SHA-256 {got_sha})")
    return final


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nbs_lib.fetch", description=__doc__.split("\n\n")[0])
    ap.add_argument("name", choices=sorted(SOURCES))
    ap.add_argument("--dir", default=str(Path.home() / "nbs-data"), help="where to put it (default ~/nbs-data)")
    ap.add_argument("--url", help="download from here instead of the official address")
    ap.add_argument("--md5", help="expected MD5 (default: the published one, for the official address)")
    ap.add_argument("--archive", help="use this already downloaded archive instead of downloading")
    ap.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds")
    a = ap.parse_args(argv)
    try:
        path = fetch(a.name, a.dir, url=a.url, md5=a.md5, archive=a.archive, timeout=a.timeout)
    except (FetchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"export {SOURCES[a.name].env}={path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
