"""Ranges, choices and files of a composed configuration, checked once before anything is written or trained.

The schema (``search.schema``) has typed every value by then; what is left is what types cannot say: an epoch count of
at least 1, an optimizer ultralytics knows, no more devices than the machine has, a checkpoint that loads, a dataset
with images and labels. Each check raises ``UserError`` with one line naming the key, the value and what is valid.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig

from runners.config import ConfigError
from search.baseline import baseline_settings
from search.data import dataset_classes, resolve_data
from search.errors import UserError
from search.evaluate import COST_ATTR
from search.logs import quiet
from search.placement import PlacementError, apply, sites

LOGGERS = ("wandb", "csv", "none")
WANDB_MODES = ("offline", "online", "disabled")
TASKS = ("detect", "classify")
DIGITS = {"n_train": 1, "n_val": 1, "imgsz": 16, "max_digits": 1}  # digits generator argument -> least value


def check_search(cfg: DictConfig) -> None:
    """Every group of a ``python -m search`` config."""
    check_model(cfg)
    check_placement(cfg)
    check_trainer(cfg)
    check_study(cfg)
    check_baseline(cfg)
    check_logger(cfg)
    nc = check_data(cfg)
    check_weights(cfg, nc)


def check_inspect(cfg: DictConfig) -> None:
    """A ``python -m search.inspect`` config."""
    check_model(cfg)
    check_placement(cfg)
    _at_least("imgsz", cfg.imgsz, 32)


def check_pareto(cfg: DictConfig) -> None:
    """A ``python -m search.pareto`` config: the study's storage is named; the logger is valid."""
    if not cfg.search.storage:
        raise UserError("search.storage: name the study's storage (a journal file path or a database URL)")
    if "://" not in str(cfg.search.storage) and not Path(str(cfg.search.storage)).expanduser().is_file():
        raise UserError(f"search.storage: no such journal file {str(cfg.search.storage)!r}")
    check_logger(cfg)


def check_model(cfg: DictConfig) -> None:
    if cfg.model.task not in TASKS:
        raise UserError(f"model.task: {cfg.model.task!r}; valid: {', '.join(TASKS)}")
    try:
        sites(cfg.model.name, "all")
    except PlacementError as err:
        raise UserError(f"model.name: {err}") from None


def check_placement(cfg: DictConfig) -> None:
    layers = cfg.placement.layers
    try:
        sites(cfg.model.name, list(layers) if layers is not None else cfg.placement.name)
    except PlacementError as err:
        raise UserError(f"placement{'.layers' if layers is not None else ''}: {err}") from None


def check_trainer(cfg: DictConfig) -> None:
    try:
        instantiate(cfg.trainer).check()
    except ConfigError as err:
        raise UserError(f"trainer.{err}") from None


def check_baseline(cfg: DictConfig) -> None:
    """The baseline's own schedule (``search.baseline_train`` over the trainer): keys and ranges."""
    s = cfg.search
    try:
        baseline_settings(instantiate(cfg.trainer), int(s.baseline_epochs), s.baseline_train).check()
    except ConfigError as err:
        raise UserError(f"search.baseline_train.{err}") from None


def check_study(cfg: DictConfig) -> None:
    s = cfg.search
    if s.objective not in COST_ATTR:
        raise UserError(f"search.objective: {s.objective!r}; valid: {', '.join(COST_ATTR)}")
    for key, low in (
        ("n_trials", 1), ("repeats", 1), ("baselines", 1), ("max_blocks", 1), ("baseline_epochs", 1),
        ("max_failures", 1), ("heartbeat", 1), ("imgsz", 32), ("worker", 0), ("seed", 0),
    ):  # fmt: skip
        _at_least(f"search.{key}", s[key], low)
    _at_least("search.early_stop.min_epoch", s.early_stop.min_epoch, 1)
    if s.max_repeats is not None and s.max_repeats < s.repeats:
        raise UserError(f"search.max_repeats: {s.max_repeats!r}; valid: null or at least search.repeats ({s.repeats})")
    most = max(s.repeats, s.max_repeats or 0)
    if s.baselines > most:
        raise UserError(
            f"search.baselines: {s.baselines}; valid: 1 to the most repeats an architecture gets ({most}), as "
            "repeat k starts from baseline k mod search.baselines"
        )
    if s.baselines > 1 and cfg.model.get("weights"):
        raise UserError(
            f"search.baselines: {s.baselines} with model.weights set; valid: 1 (one checkpoint is one baseline)"
        )
    confidence = s.early_stop.confidence
    if confidence is not None and not 0 < confidence < 1:
        raise UserError(f"search.early_stop.confidence: {confidence!r}; valid: null or a number in (0, 1)")
    if s.block_lr_mult <= 0:
        raise UserError(f"search.block_lr_mult: {s.block_lr_mult!r}; valid: a number above 0")
    for key in ("max_gflops", "max_params"):
        if s[key] is not None and s[key] <= 0:
            raise UserError(f"search.{key}: {s[key]!r}; valid: null (no budget) or a number above 0")
    if not str(s.study_name).strip():
        raise UserError("search.study_name: empty; valid: any non-empty name")


def check_logger(cfg: DictConfig) -> None:
    if cfg.logger.name not in LOGGERS:
        raise UserError(f"logger.name: {cfg.logger.name!r}; valid: {', '.join(LOGGERS)}")
    if cfg.logger.name == "wandb" and cfg.logger.mode not in WANDB_MODES:
        raise UserError(f"logger.mode: {cfg.logger.mode!r}; valid: {', '.join(WANDB_MODES)}")


def check_data(cfg: DictConfig) -> int:
    """The dataset has images and labels (digits: its generator's arguments are in range); returns its class count."""
    from runners.data.checks import check_detection_files, detection_data

    if "_target_" in cfg.data:
        for key, low in DIGITS.items():
            if key in cfg.data:
                _at_least(f"data.{key}", cfg.data[key], low)
        if "sizes" in cfg.data:
            _fractions("data.sizes", cfg.data.sizes)
    data = resolve_data(cfg.data, cfg.model.task)
    names = dataset_classes(data, cfg.model.task)
    if cfg.model.task == "detect":
        check_detection_files(detection_data(data), data)
    return len(names)


def check_weights(cfg: DictConfig, nc: int) -> None:
    """``model.weights`` is a checkpoint of this model that loads."""
    weights = cfg.model.weights
    if weights is None:
        return
    path = Path(str(weights)).expanduser()
    if not path.is_file():
        raise UserError(f"model.weights: no such file {str(weights)!r}")
    try:
        with quiet():
            moved, total = apply(cfg.model.name, {}, weights=path, nc=nc).transfer
    except Exception as err:
        kind = "an ultralytics .pt checkpoint" if cfg.model.task == "detect" else "a state_dict or .pt checkpoint"
        reason = type(err).__name__
        raise UserError(f"model.weights: {str(weights)!r} does not load ({reason}); valid: {kind}") from None
    if moved == 0:
        raise UserError(f"model.weights: none of the {total} tensors of {str(weights)!r} fits {cfg.model.name}")


def _fractions(key: str, value: object) -> None:
    """``value`` is [low, high] with 0 < low <= high <= 1."""
    pair = list(value) if isinstance(value, ListConfig) else value
    numbers = isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair)
    if not (numbers and 0 < pair[0] <= pair[1] <= 1) or any(isinstance(v, bool) for v in pair):
        raise UserError(f"{key}: {pair!r}; valid: [low, high], fractions of the canvas with 0 < low <= high <= 1")


def _at_least(key: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise UserError(f"{key}: {value!r}; valid: an integer of at least {low}")
