"""claims records and the CIFAR-10 loader / stand-ins."""
import pickle

import numpy as np
import pytest

from nbs_lib import claims, data


def _rec(**kw):
    base = dict(paper_ref="Thm 1", paper_says="x", measured="y", verdict="reproduced", expected="reproduced",
                profile="cpu", display=False)
    base.update(kw)
    return claims.record("t.sec.name", **base)


def test_grade():
    assert claims.grade({"a": True, "b": True}) == "reproduced"
    assert claims.grade({"a": True, "b": False}) == "partly"
    assert claims.grade({"a": False}) == "not reproduced"
    with pytest.raises(ValueError):
        claims.grade({})


def test_record_and_matches():
    c = _rec(values={"x": np.float64(1.5), "arr": np.arange(3), "bad": float("nan")})
    assert c.chapter == "t" and c.values["arr"] == [0, 1, 2] and c.values["bad"] == "nan"
    assert c.matches_expected()
    assert not _rec(verdict="partly").matches_expected()
    smoke = _rec(verdict="partly", profile="smoke", needs="cpu")
    assert smoke.verdict == claims.NOT_ASSESSED and smoke.matches_expected()
    assert _rec(expected={"cpu": "partly", "paper": "reproduced"}, profile="paper").expected_verdict == "reproduced"
    assert _rec(expected={"cpu": "partly"}, profile="smoke", verdict="partly").matches_expected()


@pytest.mark.parametrize("kw,msg", [
    (dict(verdict="great"), "verdict must be one of"),
    (dict(expected="yes"), "expected must be one of"),
    (dict(paper_says=""), "paper_says must be a non-empty string"),
    (dict(profile="huge"), "profile must be one of"),
])
def test_record_rejects_bad_input(kw, msg):
    with pytest.raises(ValueError, match=msg):
        _rec(**kw)
    with pytest.raises(ValueError, match="id must look like"):
        claims.record("nodots", paper_ref="a", paper_says="b", measured="c", verdict="partly", expected="partly",
                      profile="cpu", display=False)


def test_from_notebook_reads_the_mime_payload():
    c = _rec()
    from dataclasses import asdict
    nb = {"cells": [{"outputs": [{"data": {claims.MIME: asdict(c), "text/plain": "x"}}]}, {"cells": []}]}
    got = claims.from_notebook(nb)
    assert len(got) == 1 and got[0]["id"] == "t.sec.name"


def _write_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    d = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
    with open(path, "wb") as fh:
        pickle.dump(d, fh)
    return d


def test_cifar10_loader_reads_python_batches(tmp_path, monkeypatch):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    b1 = _write_batch(root / "data_batch_1", 7, 0)
    b2 = _write_batch(root / "data_batch_2", 5, 1)
    _write_batch(root / "test_batch", 4, 2)
    ds = data.load_cifar10(tmp_path, "train")
    assert ds.X.shape == (12, 3072) and ds.X.max() <= 1.0
    assert np.allclose(ds.X[:7], b1[b"data"] / 255.0) and list(ds.y[7:]) == list(b2[b"labels"])
    assert "CIFAR-10" in ds.source
    assert data.load_cifar10(root, "test").X.shape == (4, 3072)
    sub = data.load_cifar10(root, classes=(1, 2))
    assert set(sub.y) <= {1, 2}
    monkeypatch.setenv(data.CIFAR10_ENV, str(root))
    assert data.image_dataset().source.startswith("CIFAR-10")


def test_cifar10_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(data.CIFAR10_ENV, raising=False)
    with pytest.raises(ValueError, match="cifar10_root must be an existing directory"):
        data.cifar10_dir(tmp_path / "missing")
    with pytest.raises(ValueError, match="must contain the CIFAR-10 python batches"):
        data.cifar10_dir(tmp_path)
    assert data.cifar10_dir(None) is None
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ValueError, match=r"\(N, 3072\)"):
        data.load_cifar10(tmp_path)


def test_stand_ins(monkeypatch):
    monkeypatch.delenv(data.CIFAR10_ENV, raising=False)
    dg = data.image_dataset(classes=(0, 1))
    assert "digits" in dg.source and set(dg.y) == {0, 1} and dg.X.shape[1] == 64
    p = data.image_patches(50, patch=6, seed=3)
    assert p.X.shape == (50, 36) and 0 <= p.X.min() and p.X.max() <= 1
    assert np.array_equal(p.X, data.image_patches(50, patch=6, seed=3).X)
