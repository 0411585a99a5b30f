"""Data fetch (nbs_lib.fetch) against a local HTTP server on 127.0.0.1 serving archives the test makes:
verified unpack, wrong checksum, partial download, no network, an archive without the data; nothing corrupt
is ever left where a loader would look."""
import hashlib
import http.server
import io
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from nbs_lib import fetch

ROOT = Path(__file__).resolve().parents[1]


def _cifar_archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, body in (("cifar-10-batches-py/data_batch_1", b"x" * 100),
                           ("cifar-10-batches-py/batches.meta", b"meta")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def _sgemm_archive(rows: int) -> bytes:
    csv = "MWG,NWG,Run1 (ms)\n" + "".join(f"16,16,{i}.0\n" for i in range(rows))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("sgemm_product.csv", csv)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("sgemm_product_dataset.zip", inner.getvalue())
    return outer.getvalue()


@pytest.fixture
def server():
    files: dict[str, tuple[bytes, int | None]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body, claimed = files.get(self.path, (None, None))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(claimed or len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, files
    httpd.shutdown()


def test_cifar_download_verified_and_unpacked(server, tmp_path):
    base, files = server
    data = _cifar_archive()
    files["/c.tgz"] = (data, None)
    path = fetch.fetch("cifar10", tmp_path, url=base + "/c.tgz", md5=hashlib.md5(data).hexdigest())
    assert path == tmp_path / "cifar-10-batches-py" and (path / "data_batch_1").read_bytes() == b"x" * 100
    assert [p.name for p in tmp_path.iterdir()] == ["cifar-10-batches-py"], "no temporary file left"


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    base, files = server
    files["/c.tgz"] = (_cifar_archive(), None)
    with pytest.raises(fetch.FetchError, match="wrong checksum"):
        fetch.fetch("cifar10", tmp_path, url=base + "/c.tgz", md5="0" * 32)
    assert list(tmp_path.iterdir()) == []


def test_partial_download_leaves_nothing(server, tmp_path):
    base, files = server
    data = _cifar_archive()
    files["/c.tgz"] = (data[: len(data) // 2], len(data))  # the server promises more than it sends
    with pytest.raises(fetch.FetchError, match="partial download|could not download"):
        fetch.fetch("cifar10", tmp_path, url=base + "/c.tgz", md5=hashlib.md5(data).hexdigest(), timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_no_network_says_so(tmp_path):
    with pytest.raises(fetch.FetchError, match="no network"):
        fetch.fetch("cifar10", tmp_path, url="http://127.0.0.1:9/none.tgz", timeout=2)
    assert list(tmp_path.iterdir()) == []


def test_sgemm_nested_zip_and_row_count(server, tmp_path):
    base, files = server
    files["/s.zip"] = (_sgemm_archive(241600), None)
    path = fetch.fetch("sgemm", tmp_path, url=base + "/s.zip")
    assert path.name == "sgemm_product.csv" and path.read_text().startswith("MWG")
    files["/short.zip"] = (_sgemm_archive(10), None)
    with pytest.raises(fetch.FetchError, match="10 data rows, 241600 expected"):
        fetch.fetch("sgemm", tmp_path / "b", url=base + "/short.zip")
    assert not (tmp_path / "b" / "sgemm_product.csv").exists()


def test_not_an_archive(server, tmp_path):
    base, files = server
    files["/x"] = (b"not an archive", None)
    with pytest.raises(fetch.FetchError, match="not a readable archive"):
        fetch.fetch("cifar10", tmp_path, url=base + "/x")


def test_cli_prints_the_variable(server, tmp_path):
    base, files = server
    data = _cifar_archive()
    files["/c.tgz"] = (data, None)
    out = subprocess.run([sys.executable, "-m", "nbs_lib.fetch", "cifar10", "--dir", str(tmp_path), "--url",
                          base + "/c.tgz", "--md5", hashlib.md5(data).hexdigest()], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert f"export NBS_CIFAR10_DIR={tmp_path / 'cifar-10-batches-py'}" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "nbs_lib.fetch", "cifar10", "--dir", str(tmp_path / "z"),
                          "--url", "http://127.0.0.1:9/x", "--timeout", "2"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1 and "no network" in bad.stderr
