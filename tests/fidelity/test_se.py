"""SE equals the article's SEAttention for equal hyperparameters."""

import torch
from oracles.se import SEAttention

import modules


def test_se_matches_article() -> None:
    ours = modules.build("se", 64, reduction=8).eval()
    ref = SEAttention(channel=64, reduction=8).eval()
    # The article's Linear layers are our 1×1 convolutions: same weights, a trailing 1×1.
    ref.fc[0].weight.data.copy_(ours.fc[0].weight.data.flatten(1))
    ref.fc[2].weight.data.copy_(ours.fc[2].weight.data.flatten(1))
    x = torch.randn(3, 64, 9, 7)
    torch.testing.assert_close(ours(x), ref(x))


def test_se_small_channels_keep_a_hidden_layer() -> None:
    """Deviation: the article's hidden width C // r is 0 for C < r; ours never drops below ``min_channels``."""
    assert modules.build("se", 8, reduction=16).fc[0].out_channels == 4
