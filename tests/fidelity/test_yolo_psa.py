"""yolo_psa is ultralytics' PSA where PSA itself works; the adaptations make it work everywhere else."""

import pytest
import torch
from ultralytics.nn.modules.block import PSA

import modules


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("channels", [128, 256])
def test_yolo_psa_equals_ultralytics(channels: int, train: bool) -> None:
    ours = modules.build("yolo_psa", channels).train(train)
    ref = PSA(channels, channels).train(train)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, channels, 6, 5)
    torch.testing.assert_close(ours(x), ref(x))


def test_heads_divide_the_attended_channels() -> None:
    """Deviation: at C = 258 ultralytics takes 129 // 64 = 2 heads for 129 channels, its reshape fails; ours takes 1."""
    x = torch.randn(1, 258, 3, 3)
    with pytest.raises(RuntimeError):
        PSA(258, 258)(x)
    assert modules.build("yolo_psa", 258).attn.num_heads == 1
    assert modules.build("yolo_psa", 258)(x).shape == x.shape


def test_trains_on_batch_one_at_one_pixel() -> None:
    """Deviation: ultralytics' nn.BatchNorm2d fails in training on a single value per channel; ours normalises it."""
    x = torch.randn(1, 128, 1, 1)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        PSA(128, 128).train()(x)
    assert modules.build("yolo_psa", 128).train()(x).shape == x.shape
