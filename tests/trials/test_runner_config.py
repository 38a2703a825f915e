"""The Hydra groups ``trainer`` and ``data`` instantiate to what the runners take, with the code's defaults."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from runners import TrainConfig, prepare_digits
from runners.data.digits import DEFAULTS


def _compose(name: str, overrides: tuple[str, ...] = ()) -> object:
    """The group node of ``name`` (e.g. ``trainer/default``) with ``key=value`` overrides relative to the group."""
    group = name.split("/")[0]
    prefixed = [f"+{group}.{o[1:]}" if o.startswith("+") else f"{group}.{o}" for o in overrides]
    with initialize_config_module("search.conf", version_base="1.3"):
        return compose(config_name=name, overrides=prefixed)[group]


def test_default_trainer_is_the_dataclass_default() -> None:
    assert instantiate(_compose("trainer/default")) == TrainConfig()


def test_lists_and_dicts_arrive_as_plain_python() -> None:
    cfg = instantiate(_compose("trainer/default", ("devices=[0,1]", "+overrides.copy_paste=0.1")))
    assert type(cfg.devices) is list and type(cfg.overrides) is dict
    assert cfg.ultralytics_args().copy_paste == 0.1


def test_smoke_trainer_is_one_tiny_epoch() -> None:
    cfg = instantiate(_compose("trainer/smoke"))
    assert isinstance(cfg, TrainConfig) and (cfg.epochs, cfg.imgsz) == (1, 64)


def test_classify_trainer_turns_ultralytics_classification_augmentation_off() -> None:
    args = instantiate(_compose("trainer/classify")).ultralytics_args(task="classify")
    assert (args.imgsz, args.scale, args.hsv_v, args.erasing, args.auto_augment) == (32, 0.0, 0.0, 0.0, None)


@pytest.mark.parametrize("name", ["digits", "digits_cls"])
def test_digits_configs_are_the_generator_defaults(name: str, tmp_path: Path) -> None:
    node = _compose(f"data/{name}")
    signature = inspect.signature(prepare_digits).parameters
    assert (node.n_train, node.n_val, node.imgsz) == DEFAULTS[node.task]
    assert (node.seed, node.get("max_digits", 4)) == (signature["seed"].default, signature["max_digits"].default)
    path = instantiate(_compose(f"data/{name}", (f"root={tmp_path}", "n_train=4", "n_val=2")))
    assert path.exists() and path.is_relative_to(tmp_path)


def test_ultralytics_arguments_are_validated() -> None:
    assert TrainConfig(overrides={"copy_paste": 0.1}).ultralytics_args().copy_paste == 0.1
    with pytest.raises(TypeError):
        TrainConfig(lr0="fast").ultralytics_args()  # type: ignore[arg-type]


def test_auto_precision_follows_the_device() -> None:
    expected = "16-mixed" if torch.cuda.is_available() else "32-true"
    assert TrainConfig().lightning_precision() == expected
    assert TrainConfig(accelerator="cpu").lightning_precision() == "32-true"
