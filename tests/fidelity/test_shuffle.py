"""Shuffle Attention equals the article's ShuffleAttention for equal hyperparameters; G adapts where it can't."""

import pytest
import torch
import torch.nn.functional as F
from oracles.shuffle import ShuffleAttention

import modules


def _randomise(block: torch.nn.Module) -> torch.nn.Module:
    """Move the weights off their init (weights 0, biases 1), so that every term counts."""
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn_like(p))
    return block


def _article(ours: torch.nn.Module, channels: int, groups: int) -> ShuffleAttention:
    ref = ShuffleAttention(channel=channels, reduction=16, G=groups)  # the article's reduction is unused
    ref.load_state_dict(ours.state_dict(), strict=False)  # GroupNorm affine left at its identity init
    return ref


def test_shuffle_matches_article() -> None:
    ours = _randomise(modules.build("shuffle", 64, groups=8))
    x = torch.randn(3, 64, 9, 7)
    torch.testing.assert_close(ours(x), _article(ours, 64, groups=8)(x))


def test_shuffle_article_groupnorm_affine_folds_into_the_spatial_scale() -> None:
    """Deviation: the article's GroupNorm has its own (γ, β); w_s·(γ·x̂ + β) + b_s is (w_s·γ)·x̂ + (w_s·β + b_s), so
    ours has only w_s and b_s (and normalises by hand, which also runs on one value per map in training)."""
    ref = _randomise(ShuffleAttention(channel=64, G=8))
    ours = modules.build("shuffle", 64, groups=8)
    ours.load_state_dict(ref.state_dict(), strict=False)
    with torch.no_grad():
        ours.sweight.copy_(ref.sweight * ref.gn.weight.view_as(ref.sweight))
        ours.sbias.copy_(ref.sweight * ref.gn.bias.view_as(ref.sweight) + ref.sbias)
    x = torch.randn(3, 64, 9, 7)
    torch.testing.assert_close(ours(x), ref(x))


def test_shuffle_groups_adapt_when_2g_does_not_divide_c() -> None:
    """Deviation: the article needs 2·G to divide C (C = 40, G = 8 fails); ours takes the largest G' ≤ G that works,
    here 5, and then equals the article at G = 5."""
    x = torch.randn(2, 40, 6, 5)
    with pytest.raises(RuntimeError):
        ShuffleAttention(channel=40, G=8)(x)
    ours = _randomise(modules.build("shuffle", 40, groups=8))
    assert ours.groups == 5
    torch.testing.assert_close(ours(x), _article(ours, 40, groups=5)(x))


def test_shuffle_odd_channels_split_unevenly() -> None:
    """Deviation: odd C has no even split at all (C = 13 is prime: G' = 1); the channel branch takes 7 channels, the
    spatial branch 6, and the shuffle interleaves them: outputs 0, 2, ..., 12 are the channel branch, 1, ..., 11 the
    spatial one."""
    ours = _randomise(modules.build("shuffle", 13))
    assert (ours.groups, ours.split) == (1, (7, 6))
    x = torch.randn(2, 13, 6, 5)
    x0, x1 = x[:, :7], x[:, 7:]
    y = ours(x)
    torch.testing.assert_close(
        y[:, 0::2], x0 * torch.sigmoid(ours.cweight * x0.mean((2, 3), keepdim=True) + ours.cbias)
    )
    torch.testing.assert_close(y[:, 1::2], x1 * torch.sigmoid(ours.sweight * F.group_norm(x1, 6) + ours.sbias))


def test_shuffle_default_groups_are_the_papers() -> None:
    """Deviation: the article defaults to G = 8; SA-Net uses G = 64."""
    assert modules.defaults("shuffle") == {"groups": 64}
