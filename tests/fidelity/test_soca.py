"""SOCA equals the article's (forward, and input gradients against its hand-written backward); deviations pinned."""

import pytest
import torch
from oracles.soca import SOCA, CovpoolLayer, SqrtmLayer

import modules
from modules.blocks.soca import covariance_sqrt_mean


def _input_grad(fn, x: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    y = fn(x)
    (y * weights).sum().backward()
    return y, x.grad


@pytest.mark.parametrize("shape", [(3, 64, 9, 7), (2, 256, 40, 40)], ids=["small", "benchmark_size"])
def test_soca_matches_article(shape: tuple[int, int, int, int]) -> None:
    ours = modules.build("soca", shape[1], reduction=8)
    ref = SOCA(shape[1], reduction=8)
    ref.conv_du.load_state_dict(ours.conv_du.state_dict())
    x = torch.randn(shape)
    weights = torch.randn_like(x)
    y, grad = _input_grad(ours, x, weights)
    y_ref, grad_ref = _input_grad(ref, x, weights)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-4, atol=1e-5 * grad_ref.abs().max().item())


@pytest.mark.parametrize("iterations", [2, 3, 5, 7])
def test_input_gradients_equal_the_articles_backward(iterations: int) -> None:
    """Autograd through our batched Newton–Schulz rewrite gives the article's hand-derived gradient."""
    x = torch.randn(3, 12, 5, 4)
    weights = torch.randn(3, 12)
    y, grad = _input_grad(lambda t: covariance_sqrt_mean(t, iterations, 1e-12), x, weights)
    y_ref, grad_ref = _input_grad(lambda t: SqrtmLayer(CovpoolLayer(t), iterations).mean(1), x, weights)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6 * y_ref.abs().max().item())
    torch.testing.assert_close(grad, grad_ref, rtol=1e-4, atol=1e-5 * grad_ref.abs().max().item())


@pytest.mark.parametrize("iterations", [1, 5])
def test_gradients_are_exact(iterations: int) -> None:
    """The detached factors in our covariance pooling leave the gradient exact (checked against finite differences)."""
    x = torch.randn(2, 5, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: covariance_sqrt_mean(t, iterations, 1e-12), (x,))


def test_one_iteration_is_defined() -> None:
    """Deviation: for iterN = 1 the article's backward uses the undefined ``der_sacleTrace``, and its forward returns
    the Z iterate (3I − A)/2 (≈ A^(−1/2)); ours is the first Newton–Schulz step Y₁ = A·(3I − A)/2, with its gradient."""
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    with pytest.raises(NameError, match="der_sacleTrace"):
        SqrtmLayer(CovpoolLayer(x), 1).sum().backward()
    xc = x.detach().flatten(2) - x.detach().flatten(2).mean(2, keepdim=True)
    cov = xc @ xc.transpose(1, 2) / 25
    trace = cov.diagonal(dim1=1, dim2=2).sum(1).view(2, 1, 1)
    a = cov / trace
    expected = (0.5 * a @ (3 * torch.eye(8) - a) * trace.sqrt()).mean(1)
    torch.testing.assert_close(covariance_sqrt_mean(x, 1, 1e-12), expected)


def test_zero_trace_is_finite() -> None:
    """Deviation: the article divides by the covariance trace, 0 on a constant input (exactly so on zeros), and returns
    NaN there; ours floors the trace at ``eps``."""
    x = torch.zeros(2, 16, 6, 5, requires_grad=True)
    assert torch.isnan(SOCA(16)(x)).all()
    y = modules.build("soca", 16)(x)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()


def test_no_centre_crop_and_no_max_pool() -> None:
    """Deviation: the article pools only the central 1000×1000 pixels (and builds an unused MaxPool2d); ours pools
    every position."""
    x = torch.randn(1, 8, 1004, 1)
    ours = modules.build("soca", 8, reduction=2, min_channels=4)
    ref = SOCA(8, reduction=2)
    ref.conv_du.load_state_dict(ours.conv_du.state_dict())
    full = ref.conv_du(SqrtmLayer(CovpoolLayer(x), 5).mean(1)[:, :, None, None]) * x
    torch.testing.assert_close(ours(x), full)
    assert not torch.allclose(ref(x), full)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in ours.modules())


def test_covariance_in_float32_under_autocast() -> None:
    """The covariance square root runs in float32 under bf16 autocast: its result feeds the gate unchanged."""
    block = modules.build("soca", 32).eval()
    seen = []
    block.conv_du.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    x = torch.randn(2, 32, 8, 8)
    block(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        block(x)
    assert seen[1].dtype == torch.float32
    torch.testing.assert_close(seen[1], seen[0])
