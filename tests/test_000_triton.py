"""Triton K0 kernel of paper 000 against its PyTorch reference, on the CPU through TRITON_INTERPRET=1."""
import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from nbs_lib.gpu import has_triton  # noqa: E402

pytestmark = pytest.mark.triton


@pytest.mark.skipif(not has_triton(), reason="triton is not installed")
@pytest.mark.parametrize("n,N,m", [(3, 7, 5), (2, 9, 20)])
def test_fused_k0_matches_reference(n, N, m):
    from nbs_lib import unbalanced as ub
    from nbs_lib.unbalanced.triton import ntk_hidden_fused

    g = torch.Generator().manual_seed(n * 100 + N)
    X = ub.sphere(5, N, gen=g)
    V = torch.randn(n, 2 * m, generator=g, dtype=torch.float64)
    W = torch.randn(5, 2 * m, generator=g, dtype=torch.float64)
    ref = ntk_hidden_fused(V, W, X, backend="torch")
    assert torch.equal(ref, ub.ntk_hidden(V, W, X))
    out = ntk_hidden_fused(V, W, X, backend="triton", block=8)
    assert torch.allclose(out, ref, rtol=1e-12, atol=1e-12)


def test_bad_block_raises():
    from nbs_lib.unbalanced.triton import ntk_hidden_fused

    with pytest.raises(ValueError, match="block"):
        ntk_hidden_fused(torch.zeros(2, 4, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64),
                         torch.zeros(3, 5, dtype=torch.float64), block=6)
