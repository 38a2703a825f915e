"""BAM equals the article's BAMBlock for equal hyperparameters, once the article's spatial padding is repaired."""

import pytest
import torch
from oracles.bam import BAMBlock
from torch import nn

import modules

# The article's hyperparameters, explicit: reduction 16, dilation 2, three layers in each branch.
ARTICLE = {"reduction": 16, "dilation": 2, "channel_layers": 3, "spatial_layers": 3}


def _copy(conv_bn: nn.Sequential, conv: nn.Module, bn: nn.Module, bias: bool) -> None:
    """Our bias-free conv + BatchNorm into the article's conv (or Linear) + BatchNorm; zero its bias unless kept."""
    conv.weight.data.copy_(conv_bn[0].weight.data.reshape(conv.weight.shape))
    if not bias:
        conv.bias.data.zero_()
    bn.load_state_dict(conv_bn[1].state_dict())


def _article(ours: nn.Module, repair_padding: bool = True, bias: bool = False) -> BAMBlock:
    """The article's block with our weights; ``repair_padding`` pads its dilated convolutions by the dilation."""
    ref = BAMBlock(channel=64, reduction=ARTICLE["reduction"], dia_val=ARTICLE["dilation"])
    ca, sa = ref.ca.ca, ref.sa.sa
    for i in range(ARTICLE["channel_layers"]):
        _copy(ours.channel[1 + i], getattr(ca, f"fc{i}"), getattr(ca, f"bn{i}"), bias)
    ca.last_fc.weight.data.copy_(ours.channel[-1].weight.data.flatten(1))
    ca.last_fc.bias.data.copy_(ours.channel[-1].bias.data)
    _copy(ours.spatial[0], sa.conv_reduce1, sa.bn_reduce1, bias)
    for i in range(ARTICLE["spatial_layers"]):
        _copy(ours.spatial[1 + i], getattr(sa, f"conv{i}"), getattr(sa, f"bn{i}"), bias)
        if repair_padding:
            getattr(sa, f"conv{i}").padding = (ARTICLE["dilation"],) * 2
    sa.last_conv.load_state_dict(ours.spatial[-1].state_dict())
    return ref


def test_bam_matches_article_train_then_eval() -> None:
    ours = modules.build("bam", 64, **ARTICLE)
    ref = _article(ours)
    x = torch.randn(4, 64, 9, 7)
    torch.testing.assert_close(ours.train()(x), ref.train()(x))
    # The train step moved both blocks' running statistics alike; eval mode uses them.
    torch.testing.assert_close(ours.eval()(x), ref.eval()(x))


def test_bam_biases_before_batchnorm_are_dead_in_training() -> None:
    """Deviation: the article's convolutions and Linears before a BatchNorm have biases; in training the BatchNorm
    subtracts them again (they get no gradient), so ours have none: the article with random such biases is equal."""
    ours = modules.build("bam", 64, **ARTICLE).train()
    ref = _article(ours, bias=True).train()
    x = torch.randn(4, 64, 9, 7)
    torch.testing.assert_close(ours(x), ref(x))


def test_bam_article_padding_shrinks_the_spatial_map() -> None:
    """Deviation: the article pads its dilated 3×3 convolutions by 1 whatever the dilation, so each shrinks the map by
    2: at 7×7 its 'spatial attention' is one value broadcast over all positions, at 8×8 it fails. Ours pads by the
    dilation and keeps H×W."""
    ours = modules.build("bam", 64, **ARTICLE).eval()
    ref = _article(ours, repair_padding=False).eval()
    x = torch.randn(2, 64, 7, 7)
    assert ref.sa(x).flatten(2).std(-1).max() == 0  # one value per sample
    assert ours.spatial(x).flatten(2).std(-1).min() > 0
    with pytest.raises(RuntimeError):
        ref(torch.randn(2, 64, 8, 8))
    assert ours(torch.randn(2, 64, 8, 8)).shape == (2, 64, 8, 8)


def test_bam_trains_on_a_batch_of_one() -> None:
    """Deviation: the article's BatchNorm1d on the pooled (B, C) descriptor raises for B = 1 in training; ours is a
    BatchNorm2d that normalises with the running statistics there (see ``modules.layers.BatchNorm2d``)."""
    ours = modules.build("bam", 64, **ARTICLE).train()
    ref = _article(ours).train()
    x = torch.randn(1, 64, 9, 7)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ref(x)
    assert torch.isfinite(ours(x)).all()
