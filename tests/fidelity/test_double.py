"""Double Attention equals the article's DoubleAttentionLayer (with reconstruction) plus the paper's residual."""

import torch
from oracles.double import DoubleAttentionLayer

import modules


def test_double_matches_article() -> None:
    ours = modules.build("double", 64, reduction_m=4, reduction_n=8)
    ref = DoubleAttentionLayer(64, c_m=16, c_n=8, reconstruct=True)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, 64, 9, 7)
    torch.testing.assert_close(ours(x), x + ref(x))


def test_small_channels_keep_descriptors() -> None:
    """Any C ≥ 8: c_m and c_n never drop below ``min_channels`` (C // 4 is 2 at C = 8)."""
    block = modules.build("double", 8)
    assert block.convA.out_channels == 4 and block.convB.out_channels == 4
