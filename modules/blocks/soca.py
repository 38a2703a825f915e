"""Second-order Channel Attention (SOCA).

Dai, Cai, Zhang, Xia, Zhang: "Second-order Attention Network for Single Image Super-Resolution", CVPR 2019.
https://openaccess.thecvf.com/content_CVPR_2019/html/Dai_Second-Order_Attention_Network_for_Single_Image_Super-Resolution_CVPR_2019_paper.html
"""

from __future__ import annotations

import torch
from torch import nn

from modules.registry import register


def covariance_sqrt_mean(x: torch.Tensor, iterations: int, eps: float) -> torch.Tensor:
    """Row means of the Newton–Schulz square root of the channel covariance of ``x`` (B, C, H, W), shape (B, C).

    Covariance pooling Σ = X̄X̄ᵀ/M (X̄ centred over the M = H·W positions), pre-normalisation A = Σ / tr Σ, ``iterations``
    coupled Newton–Schulz steps (Y₀ = A, Z₀ = I; T = (3I − ZY)/2, Y ← YT, Z ← TZ, the last step keeping only Y), and
    post-compensation by √(tr Σ), as in the paper (eqs. 6–8) and the article's code. The trace is floored at ``eps``, so
    a constant input (Σ = 0) gives 0 instead of 0/0.
    """
    b, c, m = x.shape[0], x.shape[1], x.shape[2] * x.shape[3]
    xc = x.flatten(2)
    # The gradient through the mean is exactly zero (X̄ has zero row sums), so it is not traced.
    xc = xc - xc.mean(dim=2, keepdim=True).detach()
    # X̄X̄ᵀ with one matrix product in backward instead of two: the half with a detached factor plus its transpose has
    # the exact gradient (G + Gᵀ)X̄ of the symmetric product, and subtracting the detached half restores the value X̄X̄ᵀ.
    half = xc @ xc.detach().transpose(1, 2)
    cov = (half + half.transpose(1, 2) - half.detach()) / m
    trace = cov.diagonal(dim1=1, dim2=2).sum(dim=1).clamp_min(eps).view(b, 1, 1)
    a = cov / trace
    return (a @ _newton_schulz_factors_times_ones(a, iterations)).view(b, c) * trace.view(b, 1).sqrt() / c


def _newton_schulz_factors_times_ones(a: torch.Tensor, iterations: int) -> torch.Tensor:
    """T₀·T₁⋯T_{n−1}·1 for the Newton–Schulz iteration on A, so that A·T₀⋯T_{n−1} = Y_n, the square-root estimate.

    Every iterate is a polynomial in A, so they commute and Y_k = A·Z_k: the coupled iteration is P_{k+1} = T_k²·P_k
    with P₀ = A and T_k = (3I − P_k)/2, and Y_n = A·T₀⋯T_{n−1}. Only Y_n·1 (row sums) is needed, so the factors are
    applied to a vector, and the last two P_k are never formed (P_k·v from the last formed P costs 3 and 9
    matrix–vector products instead of 2 matrix products each).
    """
    formed = [a]
    for _ in range(iterations - 3):
        p = formed[-1]
        tp = torch.baddbmm(p, p, p, beta=1.5, alpha=-0.5)  # T·P
        formed.append(torch.baddbmm(tp, p, tp, beta=1.5, alpha=-0.5))  # T·T·P
    v = torch.ones_like(a[:, :, :1])
    for k in range(iterations):
        v = 1.5 * v - 0.5 * _p_times(formed, k, v)
    return v


def _p_times(formed: list[torch.Tensor], k: int, v: torch.Tensor) -> torch.Tensor:
    """P_k·v, through P_k = P_{k−1}·T_{k−1}² where P_k was not formed."""
    if k < len(formed):
        return formed[k] @ v
    for _ in range(2):
        v = 1.5 * v - 0.5 * _p_times(formed, k - 1, v)
    return _p_times(formed, k - 1, v)


@register("soca", "second_order")
class SOCA(nn.Module):
    """Second-order channel attention: the channel gate is computed from a matrix square root of the covariance.

    Args:
        channels: input channels C.
        reduction: bottleneck ratio r of the gating MLP; hidden width ``max(C // r, min_channels)`` (the article's
            C // r is 1 for C < 16).
        iterations: Newton–Schulz iterations (the article hard-codes 5).
        min_channels: the smallest hidden width.
        eps: floor of the covariance trace (the article divides by a zero trace on constant input).

    Adaptations: vectorised covariance pooling and Newton–Schulz iteration with plain batched ops, so autograd gives the
    backward (the article's hand-written one uses an undefined variable for iterations = 1 and loops over the batch);
    numerics in float32 even under autocast; no 1000-pixel centre crop and no unused max-pool.
    """

    def __init__(
        self, channels: int, reduction: int = 8, iterations: int = 5, min_channels: int = 4, eps: float = 1e-12
    ) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_channels)
        self.iterations = iterations
        self.eps = eps
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            descriptor = covariance_sqrt_mean(x.float(), self.iterations, self.eps)
        return x * self.conv_du(descriptor.to(x.dtype)[:, :, None, None])
