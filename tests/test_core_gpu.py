"""Backend choice for the Triton kernels: fallback to the torch reference, clear errors."""
import pytest

from nbs_lib import gpu


def test_torch_backend_always_available():
    assert gpu.choose_backend("torch", "cpu") == "torch"


def test_auto_on_cpu_without_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert gpu.choose_backend("auto", "cpu") == "torch"
    with pytest.raises(ValueError, match="backend='triton' cannot run here"):
        gpu.choose_backend("triton", "cpu")


def test_interpreter_enables_triton_on_cpu(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    expected = "triton" if gpu.has_triton() else "torch"
    assert gpu.choose_backend("auto", "cpu") == expected


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend must be"):
        gpu.choose_backend("cuda", "cpu")
