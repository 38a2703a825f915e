"""GAM equals the article's GAM_Attention for equal hyperparameters, once the paper's sigmoid is added to it."""

import torch
from oracles.gam import GAM_Attention
from torch import nn

import modules


def _article(ours: nn.Module, sigmoid: bool = True, bias: bool = False) -> GAM_Attention:
    """The article's block with our weights; ``sigmoid`` appends the paper's sigmoid to its channel attention, and
    ``bias`` keeps its random convolution biases (else zeroed, as ours has none)."""
    ref = GAM_Attention(64, 64, rate=4)
    for i in (0, 2):  # the article's Linears are our 1×1 convolutions
        ref.channel_attention[i].weight.data.copy_(ours.channel[i].weight.data.flatten(1))
        ref.channel_attention[i].bias.data.copy_(ours.channel[i].bias.data)
    for (conv, bn), ours_conv_bn in zip([(0, 1), (3, 4)], ours.spatial[:2], strict=True):
        ref.spatial_attention[conv].weight.data.copy_(ours_conv_bn[0].weight.data)
        if not bias:
            ref.spatial_attention[conv].bias.data.zero_()
        ref.spatial_attention[bn].load_state_dict(ours_conv_bn[1].state_dict())
    if sigmoid:
        ref.channel_attention.append(nn.Sigmoid())
    return ref


def test_gam_matches_article_with_the_papers_sigmoid_train_then_eval() -> None:
    """Deviation: the article's channel attention lacks the sigmoid of the paper (Mc = σ(MLP(permute(x)))), so its
    'attention' rescales features by unbounded, signed factors; with the sigmoid appended it equals ours."""
    ours = modules.build("gam", 64, reduction=4)
    ref = _article(ours)
    x = torch.randn(4, 64, 9, 7)
    torch.testing.assert_close(ours.train()(x), ref.train()(x))
    # The train step moved both blocks' running statistics alike; eval mode uses them.
    torch.testing.assert_close(ours.eval()(x), ref.eval()(x))
    gate = _article(ours, sigmoid=False).channel_attention(x.permute(0, 2, 3, 1))
    assert gate.min() < 0 < gate.max() - 1  # the article's unbounded channel "gate"


def test_gam_biases_before_batchnorm_are_dead_in_training() -> None:
    """Deviation: the article's 7×7 convolutions have biases, each followed by a BatchNorm, which subtracts them again
    in training (they get no gradient); ours have none: the article with random such biases is equal."""
    ours = modules.build("gam", 64, reduction=4).train()
    ref = _article(ours, bias=True).train()
    x = torch.randn(4, 64, 9, 7)
    torch.testing.assert_close(ours(x), ref(x))
