"""ECA equals the article's ECAAttention for equal hyperparameters."""

import pytest
import torch
from oracles.eca import ECAAttention

import modules


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_eca_matches_article(kernel_size: int) -> None:
    """The article's convolution has a bias, the paper's and the official code's none: ours copied with a zero bias."""
    ours = modules.build("eca", 64, kernel_size=kernel_size)
    ref = ECAAttention(kernel_size=kernel_size)
    ref.conv.weight.data.copy_(ours.conv.weight.data)
    ref.conv.bias.data.zero_()
    x = torch.randn(3, 64, 9, 7)
    torch.testing.assert_close(ours(x), ref(x))


@pytest.mark.parametrize(("channels", "k"), [(8, 3), (64, 3), (128, 5), (256, 5), (512, 5), (1024, 5), (2048, 7)])
def test_eca_kernel_size_adapts_to_channels(channels: int, k: int) -> None:
    """Deviation: the article fixes k = 3; the paper's k = |log2(C)/γ + b/γ|_odd with γ = 2, b = 1 (values as the
    official code computes them)."""
    assert modules.build("eca", channels).conv.kernel_size == (k,)
