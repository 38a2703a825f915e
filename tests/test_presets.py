"""The GPU presets compose and instantiate as a user types them: ``trainer=gpu``, ``experiment=gpu`` (your data on one
GPU) and ``experiment=slurm_gpu`` (a SLURM array of GPU workers on a shared journal). Nothing here trains."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from runners import TrainConfig
from runners.config import ConfigError
from search.cli import normalize

DATA = "/shared/data/my.yaml"
JOURNAL = "/shared/studies/my.journal"


def _compose(*args: str) -> DictConfig:
    with initialize_config_module("search.conf", version_base="1.3"):
        return compose("config", overrides=normalize(args), return_hydra_config=True)


def _gpu_trainer(cfg: DictConfig) -> TrainConfig:
    settings = instantiate(cfg.trainer)
    assert isinstance(settings, TrainConfig)
    assert (settings.imgsz, settings.fliplr, settings.workers, settings.precision) == (640, 0.5, 8, "16-mixed")
    assert (settings.batch, settings.nbs, settings.warmup_epochs) == (64, 64, 0.0)  # fine-tuning: no warm-up restart
    assert (settings.accelerator, settings.devices) == ("gpu", 1)
    return settings


def test_trainer_gpu_is_ultralytics_like_on_one_gpu() -> None:
    settings = _gpu_trainer(_compose("trainer=gpu"))
    args = settings.ultralytics_args(task="detect")  # what ultralytics' dataset, augmentations and optimizer read
    assert (args.imgsz, args.fliplr, args.batch, args.nbs, args.warmup_epochs) == (640, 0.5, 64, 64, 0.0)
    assert settings.lightning_precision() == "16-mixed"


def test_trainer_gpu_is_refused_without_cuda() -> None:
    settings = instantiate(_compose("trainer=gpu").trainer)
    if torch.cuda.is_available():
        settings.check()
    else:
        with pytest.raises(ConfigError, match="no CUDA device"):
            settings.check()


def test_experiment_gpu_trains_your_data_on_one_gpu() -> None:
    cfg = _compose("experiment=gpu", f"data={DATA}")
    _gpu_trainer(cfg)
    assert cfg.data.path == DATA and "_target_" not in cfg.data  # the user's data, not the digits
    assert cfg.search.n_trials > _compose().search.n_trials
    assert cfg.search.imgsz == 640  # the cost is measured at the trials' image size
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "basic"


def test_experiment_slurm_gpu_is_an_array_of_gpu_workers_on_one_journal() -> None:
    cfg = _compose("experiment=slurm_gpu", f"data={DATA}", f"search.storage={JOURNAL}", "search.worker=3")
    _gpu_trainer(cfg)
    assert cfg.data.path == DATA
    assert cfg.search.storage == JOURNAL and cfg.search.resume is True and cfg.search.worker == 3
    assert cfg.hydra.runtime.choices["hydra/launcher"] == "slurm"
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert (cfg.hydra.launcher.gpus_per_node, cfg.hydra.launcher.tasks_per_node) == (1, 1)


def test_experiment_slurm_gpu_shares_one_journal_by_default() -> None:
    """Without search.storage, the workers of one submission share the sweep directory's journal."""
    cfg = _compose("experiment=slurm_gpu", f"data={DATA}")
    search = OmegaConf.to_container(cfg.search, resolve=False)
    assert search["storage"] == "${hydra:sweep.dir}/study.journal" and search["resume"] is True
