"""Coordinate Attention equals the article's CoordAtt for equal hyperparameters."""

import pytest
import torch
from oracles.coord import CoordAtt

import modules


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize(("channels", "reduction"), [(64, 4), (13, 32)])
def test_coord_matches_article(channels: int, reduction: int, train: bool) -> None:
    ours = modules.build("coord", channels, reduction=reduction).train(train)
    ref = CoordAtt(channels, channels, reduction=reduction).train(train)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, channels, 9, 6)
    torch.testing.assert_close(ours(x), ref(x))
