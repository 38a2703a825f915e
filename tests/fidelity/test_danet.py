"""DANet equals the paper's equations (1)–(4), evaluated position by position and channel by channel."""

import torch

import modules


def _paper(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A + α·PAM + β·CAM with explicit sums over positions i for each j (eqs. 1–2) and over channels (eqs. 3–4)."""
    n, ch, h, w = x.shape
    a = x.flatten(2)
    b, c, d = (conv(x).flatten(2) for conv in (block.conv_b, block.conv_c, block.conv_d))
    pam, cam = torch.zeros_like(a), torch.zeros_like(a)
    for s in range(n):
        for j in range(h * w):
            e = torch.exp(torch.stack([b[s, :, i] @ c[s, :, j] for i in range(h * w)]))
            pam[s, :, j] = sum(e[i] / e.sum() * d[s, :, i] for i in range(h * w))
        for j in range(ch):
            e = torch.exp(torch.stack([a[s, i] @ a[s, j] for i in range(ch)]))
            cam[s, j] = sum(e[i] / e.sum() * a[s, i] for i in range(ch))
    return (a + block.alpha * pam + block.beta * cam).view_as(x)


def test_danet_matches_paper_equations() -> None:
    block = modules.build("danet", 16, reduction=4)
    with torch.no_grad():
        block.alpha.fill_(0.7)
        block.beta.fill_(-1.3)
    x = 0.3 * torch.randn(2, 16, 4, 3)
    with torch.no_grad():
        torch.testing.assert_close(block(x), _paper(block, x))


def test_danet_is_identity_at_init() -> None:
    """α = β = 0 as in the paper: the block starts as an identity map even without the residual gate."""
    x = torch.randn(2, 16, 5, 4)
    torch.testing.assert_close(modules.build("danet", 16)(x), x)
