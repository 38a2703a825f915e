"""Polarized Self-Attention, both layouts (psa, psa_seq), equals the article's for equal hyperparameters."""

import pytest
import torch
from oracles.psa import ParallelPolarizedSelfAttention, SequentialPolarizedSelfAttention

import modules

ORACLES = {"psa": ParallelPolarizedSelfAttention, "psa_seq": SequentialPolarizedSelfAttention}


@pytest.mark.parametrize("key", ORACLES)
@pytest.mark.parametrize("channels", [64, 13])
def test_polarized_matches_article(key: str, channels: int) -> None:
    """The article's channel query ``ch_wq`` has a bias, ours none: a softmax over positions cancels it (so it never
    gets a gradient). It is left random here, and the outputs are still equal."""
    ours = modules.build(key, channels)
    with torch.no_grad():  # LayerNorm's affine off its (1, 0) init, so that it counts
        ours.channel_only.ln.weight.normal_()
        ours.channel_only.ln.bias.normal_()
    ref = ORACLES[key](channel=channels)
    ref.ch_wq.weight.data.copy_(ours.channel_only.wq.weight.data)
    ref.ch_wv.load_state_dict(ours.channel_only.wv.state_dict())
    ref.ch_wz.load_state_dict(ours.channel_only.wz.state_dict())
    ref.ln.load_state_dict(ours.channel_only.ln.state_dict())
    ref.sp_wq.load_state_dict(ours.spatial_only.wq.state_dict())
    ref.sp_wv.load_state_dict(ours.spatial_only.wv.state_dict())
    x = torch.randn(3, channels, 9, 7)
    torch.testing.assert_close(ours(x), ref(x))
