"""Criss-Cross Attention equals a naive per-pixel loop over each position's criss-cross path (the paper's eqs.)."""

import pytest
import torch

import modules


def _naive(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """R times: at (i, j), softmax over its column without itself and its whole row (H + W − 1 positions, the position
    itself once, as the official implementation's −∞ on the column's diagonal gives), then x + γ·Σ weights·values."""
    for _ in range(block.recurrence):
        q, k, v = block.query(x), block.key(x), block.value(x)
        out = torch.zeros_like(x)
        for s in range(x.shape[0]):
            for i in range(x.shape[2]):
                for j in range(x.shape[3]):
                    path = [(u, j) for u in range(x.shape[2]) if u != i] + [(i, w) for w in range(x.shape[3])]
                    e = torch.exp(torch.stack([q[s, :, i, j] @ k[s, :, u, t] for u, t in path]))
                    out[s, :, i, j] = sum(e[n] / e.sum() * v[s, :, u, t] for n, (u, t) in enumerate(path))
        x = x + block.gamma * out
    return x


@pytest.mark.parametrize("recurrence", [1, 2])
@pytest.mark.parametrize("hw", [(4, 3), (1, 3)])
def test_ccnet_matches_naive_loop(recurrence: int, hw: tuple[int, int]) -> None:
    block = modules.build("ccnet", 16, reduction=4, recurrence=recurrence)
    with torch.no_grad():
        block.gamma.fill_(0.8)
    x = 0.5 * torch.randn(2, 16, *hw)
    with torch.no_grad():
        torch.testing.assert_close(block(x), _naive(block, x))


def test_recurrences_share_weights() -> None:
    assert sum(p.numel() for p in modules.build("ccnet", 16, recurrence=1).parameters()) == sum(
        p.numel() for p in modules.build("ccnet", 16, recurrence=2).parameters()
    )
