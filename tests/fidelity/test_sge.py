"""SGE equals the article's SpatialGroupEnhance for equal hyperparameters, and stays finite where it is not."""

import pytest
import torch
from oracles.sge import SpatialGroupEnhance

import modules


def _pair(channels: int, groups: int) -> tuple[torch.nn.Module, SpatialGroupEnhance]:
    """Ours with random (w, b), so that the normalised map counts, and the article's with the same."""
    ours = modules.build("sge", channels, groups=groups)
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    ref = SpatialGroupEnhance(groups=ours.groups)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


@pytest.mark.parametrize(("channels", "groups"), [(64, 8), (64, 64)])
def test_sge_matches_article(channels: int, groups: int) -> None:
    ours, ref = _pair(channels, groups)
    x = torch.randn(3, channels, 9, 7)
    torch.testing.assert_close(ours(x), ref(x))


def test_sge_groups_adapt_when_g_does_not_divide_c() -> None:
    """Deviation: the article needs G to divide C (C = 40, G = 64 fails); ours takes the largest divisor of C below G,
    here 40, and then equals the article at G = 40."""
    x = torch.randn(2, 40, 6, 5)
    with pytest.raises(RuntimeError):
        SpatialGroupEnhance(groups=64)(x)
    ours, ref = _pair(40, 64)
    assert ours.groups == 40
    torch.testing.assert_close(ours(x), ref(x))


@pytest.mark.filterwarnings(r"ignore:std\(\). degrees of freedom:UserWarning")
def test_sge_single_position_is_finite() -> None:
    """Deviation: at H·W = 1 the article's unbiased std is NaN and so is its output; there the centred map is 0, and
    ours gates with σ(b)."""
    ours, ref = _pair(64, 8)
    x = torch.randn(2, 64, 1, 1)
    assert torch.isnan(ref(x)).all()
    expected = (x.view(2, 8, 8) * torch.sigmoid(ours.bias.view(1, 8, 1))).view_as(x)
    torch.testing.assert_close(ours(x), expected)


def test_sge_init_is_the_official_one() -> None:
    """Deviation: the article starts b at 0 (σ(0) halves every feature at init); the official code starts w at 0 and
    b at 1."""
    ours = modules.build("sge", 64)
    assert (ours.weight == 0).all() and (ours.bias == 1).all()
    assert modules.defaults("sge") == {"groups": 64}
