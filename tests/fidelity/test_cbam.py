"""CBAM equals the article's CBAMBlock for equal hyperparameters, up to the article's residual."""

import pytest
import torch
from oracles.cbam import CBAMBlock

import modules


def _article_with_our_weights(ours: torch.nn.Module, channels: int, reduction: int, kernel_size: int) -> CBAMBlock:
    ref = CBAMBlock(channel=channels, reduction=reduction, kernel_size=kernel_size)
    ref.ca.se.load_state_dict(ours.channel.mlp.state_dict())
    ref.sa.conv.load_state_dict(ours.spatial.conv.state_dict())
    return ref


@pytest.mark.parametrize("kernel_size", [49, 7], ids=["article_default", "paper_default"])
def test_cbam_matches_article_plus_residual(kernel_size: int) -> None:
    """Deviation: the article returns ``out + x``; the paper's CBAM is the attention alone (its residual belongs to the
    ResNet block it is inserted in), so the article's output is ours plus the input."""
    ours = modules.build("cbam", 64, reduction=16, kernel_size=kernel_size)
    ref = _article_with_our_weights(ours, 64, reduction=16, kernel_size=kernel_size)
    x = torch.randn(3, 64, 9, 7)
    torch.testing.assert_close(ours(x) + x, ref(x))


def test_cbam_default_kernel_is_the_papers() -> None:
    """Deviation: the article defaults to a 49×49 spatial kernel; the paper uses (and ablates to choose) 7×7."""
    assert modules.defaults("cbam")["kernel_size"] == 7
    assert modules.build("cbam", 64).spatial.conv.kernel_size == (7, 7)
