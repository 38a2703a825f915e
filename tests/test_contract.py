"""The contract every registered attention block keeps; parametrized over the registry, so new blocks are tested too."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

import modules
from modules.gate import ResidualGate

KEYS = modules.available()
CONF = Path(__file__).resolve().parents[1] / "conf" / "attn"


def _loss(y: torch.Tensor) -> torch.Tensor:
    """A loss whose gradient is not annihilated by normalisations (a plain sum can be)."""
    weights = torch.linspace(-1.0, 2.0, y.numel(), dtype=y.dtype).reshape(y.shape)
    return (y * weights).sum()


def test_registry_lists_every_block_of_the_issue() -> None:
    expected = {
        "se",
        "cbam",
        "bam",
        "eca",
        "shuffle",
        "psa",
        "psa_seq",
        "sge",
        "coord",
        "gam",
        "danet",
        "ccnet",
        "double",
        "soca",
        "yolo_psa",
    }
    assert expected <= set(KEYS)


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(KeyError, match=r"valid keys: .*cbam"):
        modules.build("no_such_block", 16)


def test_unknown_hyperparameter_is_named() -> None:
    with pytest.raises(TypeError, match="no hyperparameter bogus"):
        modules.build(KEYS[0], 16, bogus=1)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("channels", [8, 13, 40])
@pytest.mark.parametrize("hw", [(1, 1), (7, 5), (2, 9), (16, 16)])
def test_shape_any_channels_any_size_batch_one(key: str, channels: int, hw: tuple[int, int]) -> None:
    block = modules.build(key, channels).train()
    x = torch.randn(1, channels, *hw)
    y = block(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("key", KEYS)
def test_gradients_reach_every_parameter(key: str) -> None:
    block = modules.build(key, 24).train()
    # Zero-initialised gates (DANet's γ, SGE's weight...) block gradients at init by design; jitter every parameter
    # so the test checks that the graph connects each one to the output.
    with torch.no_grad():
        for p in block.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.randn(2, 24, 9, 7, requires_grad=True)
    _loss(block(x)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in block.named_parameters():
        assert p.grad is not None, f"{key}: no gradient reaches {name}"
        assert torch.isfinite(p.grad).all(), f"{key}: non-finite gradient in {name}"
        assert p.grad.abs().sum() > 0, f"{key}: zero gradient in {name}"


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "make",
    [lambda s: torch.full(s, 0.5), lambda s: torch.zeros(s), lambda s: 1e3 * torch.randn(s)],
    ids=["constant", "zeros", "scaled_1e3"],
)
def test_finite_on_degenerate_and_large_inputs(key: str, make) -> None:
    block = modules.build(key, 16).train()
    x = make((2, 16, 6, 5)).requires_grad_(True)
    y = block(x)
    assert torch.isfinite(y).all(), f"{key}: non-finite output"
    _loss(y).backward()
    assert torch.isfinite(x.grad).all(), f"{key}: non-finite input gradient"
    for name, p in block.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), f"{key}: non-finite gradient in {name}"


@pytest.mark.parametrize("key", KEYS)
def test_channels_last_same_result(key: str) -> None:
    block = modules.build(key, 32).eval()
    x = torch.randn(2, 32, 10, 12)
    with torch.no_grad():
        ref = block(x)
        out = block.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("key", KEYS)
def test_bf16_autocast_cpu(key: str) -> None:
    block = modules.build(key, 32).train()
    x = torch.randn(2, 32, 8, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = block(x)
    assert y.shape == x.shape and torch.isfinite(y.float()).all()
    _loss(y.float()).backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("key", KEYS)
def test_fp16_autocast_cuda(key: str) -> None:
    block = modules.build(key, 32).cuda().train()
    x = torch.randn(2, 32, 8, 8, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=torch.float16):
        y = block(x)
    assert torch.isfinite(y.float()).all()
    _loss(y.float()).backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("key", KEYS)
def test_identity_init_is_exact_identity(key: str) -> None:
    block = modules.build(key, 16, identity_init=True).train()
    x = torch.randn(2, 16, 7, 9)
    assert (block(x) - x).abs().max() <= 1e-6
    block.eval()
    assert (block(x) - x).abs().max() <= 1e-6


@pytest.mark.parametrize("key", KEYS)
def test_gate_opened_the_block_changes_its_input(key: str) -> None:
    """The other half of the identity: the gate passes the block's output, so the identity is the gate's, not f's."""
    gated = modules.build(key, 16, identity_init=True).eval()
    x = torch.randn(2, 16, 7, 9)
    with torch.no_grad():
        for name, p in gated.named_parameters():  # the gate's γ, and the papers' zero scales (CCNet γ, DANet α, β)
            if name.split(".")[-1] in ("gamma", "alpha", "beta"):
                p.fill_(1.0)
        assert torch.allclose(gated(x), gated.block(x), atol=1e-6)  # γ = 1: exactly the block
        assert (gated(x) - x).abs().max() > 1e-3  # and the block is not an identity itself


def test_residual_gate_interpolates_between_input_and_block() -> None:
    """y = x + γ·(f(x) − x): with f(x) = 3x and γ = 0.25, y = 1.5x exactly; γ is one learnable zero at the start."""

    class Triple(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 3 * x

    block = Triple()
    gate = ResidualGate(block)
    assert gate.block is block
    assert [(n, tuple(p.shape), p.item(), p.requires_grad) for n, p in gate.named_parameters()] == [
        ("gamma", (1,), 0.0, True)
    ]
    x = torch.tensor([[1.0, -2.0], [4.0, 0.5]])
    assert torch.equal(gate(x), x)
    with torch.no_grad():
        gate.gamma.fill_(0.25)
    assert torch.equal(gate(x), 1.5 * x)


@pytest.mark.parametrize("key", KEYS)
def test_onnx_export_matches_onnxruntime(key: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    block = modules.build(key, 16).eval()
    x = torch.randn(2, 16, 12, 10)
    path = tmp_path / f"{key}.onnx"
    torch.onnx.export(block, (x,), str(path), opset_version=17, input_names=["x"], output_names=["y"], dynamo=False)
    with torch.no_grad():
        ref = block(x).numpy()
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    rel = abs(out - ref).max() / max(abs(ref).max(), 1e-12)
    assert rel <= 1e-4, f"{key}: onnxruntime differs by {rel:.2e} relative"


@pytest.mark.parametrize("key", KEYS)
def test_config_holds_paper_defaults_and_a_valid_space(key: str) -> None:
    assert (CONF / f"{key}.yaml").is_file(), f"conf/attn/{key}.yaml is missing"
    with initialize_config_module("search.conf", version_base="1.3"):
        cfg = compose(f"attn/{key}")
    node = cfg.attn[key]
    assert node.block.key == key
    yaml_defaults = {k: v for k, v in node.block.items() if k not in {"_target_", "_partial_", "key"}}
    assert yaml_defaults == {k: modules.defaults(key)[k] for k in yaml_defaults}, "YAML defaults differ from the class"
    signature = inspect.signature(modules.block_class(key))
    for name, choices in node.get("space", {}).items():
        assert name in signature.parameters, f"{key}: space samples unknown hyperparameter {name}"
        for choice in choices:
            out = instantiate(node.block, **{name: choice})(channels=24)(torch.randn(1, 24, 5, 5))
            assert out.shape == (1, 24, 5, 5)
