"""Each use of a dependency's internals (``runners/seams.py``, ``modules/seams.py``, ``search/seams.py``) against the
installed version: a failure names the private API that changed, the seam to update and the pin to revisit."""

from __future__ import annotations

import ast
import inspect
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import lightning as L
import numpy as np
import optuna
import pytest
import torch
from PIL import Image
from torch import nn

from runners import TrainConfig, seams
from search import seams as optuna_seams
from search.heartbeat import LOST, HeartbeatJournalStorage, ReasonedRDBStorage
from search.study import create, make_storage


@contextmanager
def seam(dependency: str, api: str, where: str) -> Iterator[None]:
    """Turn any failure inside into one message naming ``dependency``'s private ``api`` and the seam ``where``."""
    try:
        yield
    except Exception as err:  # an AssertionError included: what the seam relies on no longer holds
        pytest.fail(
            f"{dependency} {version(dependency)} changed {api}, which {where} relies on: {type(err).__name__}: {err}. "
            f"Update {where} and the {dependency} pin in pyproject.toml",
            pytrace=False,
        )


def _params(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)


def _reads(function: object) -> set[str]:
    """The attributes of ``self`` that ``function``'s source reads or writes."""
    return set(re.findall(r"\bself\.(\w+)", inspect.getsource(function)))


# ultralytics: the training recipe ------------------------------------------------------------------------------------


def test_optimizers_are_the_set_inside_build_optimizer() -> None:
    from ultralytics.engine.trainer import BaseTrainer

    with seam("ultralytics", "the optimizer set inside BaseTrainer.build_optimizer", "runners/seams.py OPTIMIZERS"):
        found = re.search(r"optimizers = (\{[^}]*\})", inspect.getsource(BaseTrainer.build_optimizer))
        assert found, "no `optimizers = {...}` in its source"
        assert set(seams.OPTIMIZERS) == ast.literal_eval(found.group(1)), f"ultralytics accepts {found.group(1)}"


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("build_optimizer", ["self", "model", "name", "lr", "momentum", "decay", "iterations"]),
        ("_setup_scheduler", ["self"]),
        ("_get_warmup_iterations", ["self", "num_batches"]),
    ],
)
def test_trainer_methods_take_what_the_recipe_gives_and_read_only_what_it_holds(method: str, params: list) -> None:
    from ultralytics.engine.trainer import BaseTrainer

    with seam("ultralytics", f"BaseTrainer.{method}", "runners/seams.py training_recipe"):
        function = getattr(BaseTrainer, method)
        assert _params(function) == params, f"parameters {_params(function)}, expected {params}"
        held = {"args", "data", "epochs", "optimizer", "lf", "scheduler"}  # the namespace it is called on
        assert _reads(function) <= held, f"it uses self.{', self.'.join(sorted(_reads(function) - held))}"


def test_training_recipe_is_ultralytics_optimizer_schedule_and_warm_up() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    with seam("ultralytics", "BaseTrainer's optimizer, scheduler and warm-up methods", "runners/seams.py"):
        args = TrainConfig(optimizer="auto", lrf=0.1, warmup_epochs=1.0).ultralytics_args(task="detect")
        recipe = seams.training_recipe(model, args, {"nc": 10}, epochs=3, batches=5, decay=1e-4, iterations=15)
        assert type(recipe.optimizer).__name__ == "AdamW" and args.optimizer == "AdamW"  # auto, as yolo train picks
        assert args.lr0 == round(0.002 * 5 / (4 + 10), 6) and args.warmup_bias_lr == 0.0
        groups = {g["param_group"]: g for g in recipe.optimizer.param_groups}
        assert set(groups) == {"weight", "bn", "bias"} and groups["weight"]["weight_decay"] == 1e-4
        assert isinstance(recipe.scheduler, torch.optim.lr_scheduler.LambdaLR)
        assert (recipe.lf(0), recipe.lf(3)) == pytest.approx((1.0, 0.1))  # linear from lr0 to lr0 * lrf
        assert recipe.warmup_iterations == 5


# ultralytics: the validator ------------------------------------------------------------------------------------------


def test_start_validation_does_what_the_validators_own_call_does_in_training() -> None:
    from ultralytics.engine.validator import BaseValidator

    with seam("ultralytics", "BaseValidator.__call__'s set-up during training", "runners/seams.py start_validation"):
        source = inspect.getsource(BaseValidator.__call__)
        lines = ("model.end2end = self.args.nms is False", "self.device = trainer.device", "self.data = trainer.data")
        for line in lines:
            assert line in source, f"no `{line}`"


def test_a_validation_through_the_seam_gives_ultralytics_metrics() -> None:
    from ultralytics.models.yolo.detect import DetectionValidator
    from ultralytics.nn.tasks import DetectionModel

    where = "runners/seams.py start_validation and runners/detect.py (validation_step, compute_metrics)"
    with seam("ultralytics", "DetectionValidator (init_metrics, postprocess, update_metrics, get_stats)", where):
        args = TrainConfig(imgsz=64).ultralytics_args(task="detect")
        model = DetectionModel("yolov8n.yaml", nc=2, verbose=False).eval()
        validator = DetectionValidator(args=args, save_dir=Path("."))
        seams.start_validation(validator, model, torch.device("cpu"), {"nc": 2, "names": {0: "a", 1: "b"}})
        batch = {
            "img": torch.zeros(2, 3, 64, 64), "cls": torch.tensor([[0.0], [1.0]]),
            "batch_idx": torch.tensor([0.0, 1.0]), "bboxes": torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.3, 0.3, 0.1, 0.1]]),
            "ori_shape": [(64, 64)] * 2, "ratio_pad": [((1.0, 1.0), (0.0, 0.0))] * 2, "im_file": ["a.jpg", "b.jpg"],
        }  # fmt: skip
        with torch.no_grad():
            validator.update_metrics(validator.postprocess(model(batch["img"])), batch)
        stats = validator.get_stats()
        for key in ("metrics/mAP50-95(B)", "metrics/mAP50(B)", "metrics/precision(B)", "metrics/recall(B)"):
            assert 0.0 <= stats[key] <= 1.0, key
        box = validator.metrics.box
        assert list(box.ap_class_index) == [0, 1] and len(box.ap) == 2


# ultralytics: the datasets -------------------------------------------------------------------------------------------


def _image(path: Path, corrupt: bool = False) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if corrupt:
        path.write_bytes(b"not an image")
    else:
        Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(path)
    return str(path)


def test_detection_images_and_the_reason_one_was_dropped(tmp_path: Path) -> None:
    from ultralytics.data import build_yolo_dataset

    where = "runners/seams.py detection_images and label_problem"
    with seam("ultralytics", "YOLODataset.get_img_files, img_path, im_files and verify_image_label's tuple", where):
        images = [_image(tmp_path / "images" / "val" / f"{i}.jpg", corrupt=i == 2) for i in range(3)]
        for i in range(3):
            (tmp_path / "labels" / "val").mkdir(parents=True, exist_ok=True)
            (tmp_path / "labels" / "val" / f"{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
        data = {"names": {0: "a"}, "nc": 1, "channels": 3}
        args = TrainConfig(imgsz=32).ultralytics_args(task="detect")
        dataset = build_yolo_dataset(args, str(tmp_path / "images" / "val"), 2, data, mode="val", rect=True, stride=32)
        every, kept = seams.detection_images(dataset)
        assert sorted(every) == images and kept == set(images[:2])
        label = str(tmp_path / "labels" / "val" / "2.txt")
        assert images[2] in seams.label_problem(images[2], label, 1)
        assert seams.label_problem(images[0], str(tmp_path / "labels" / "val" / "0.txt"), 1) == ""


def test_classification_images_and_the_reason_one_was_dropped(tmp_path: Path) -> None:
    from ultralytics.data import ClassificationDataset

    where = "runners/seams.py classification_images and image_problem"
    with seam("ultralytics", "ClassificationDataset.samples, .base.samples and verify_image's tuple", where):
        images = [_image(tmp_path / "val" / "a" / f"{i}.jpg", corrupt=i == 2) for i in range(3)]
        args = TrainConfig(imgsz=32).ultralytics_args(task="classify")
        dataset = ClassificationDataset(str(tmp_path / "val"), args, augment=False, prefix="val")
        every, kept = seams.classification_images(dataset)
        assert sorted(f for f, _ in every) == images and kept == set(images[:2])
        assert images[2] in seams.image_problem((images[2], 0))
        assert seams.image_problem((images[0], 0)) is None


def test_the_dataset_check_looks_up_check_font_where_the_seam_patches_it() -> None:
    import ultralytics.data.utils as data_utils

    with seam("ultralytics", "check_det_dataset's check_font call", "runners/seams.py no_font_download"):
        assert callable(data_utils.check_font)
        assert "check_font(" in inspect.getsource(data_utils.check_det_dataset)
        with seams.no_font_download():
            assert data_utils.check_font("Arial.ttf") is None


# ultralytics: parse_model --------------------------------------------------------------------------------------------


def test_parse_model_finds_a_registered_layer_and_resolves_c2() -> None:
    from ultralytics.nn.tasks import parse_model

    from modules.seams import register_layer

    class SeamProbe(nn.Module):
        def __init__(self, c1: int) -> None:
            super().__init__()
            self.c1 = c1

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    where = "modules/seams.py register_layer and modules/yolo.py AttnBlock rows"
    with seam("ultralytics", "parse_model's name lookup (its module's globals) and its locals (c2)", where):
        register_layer(SeamProbe)
        layers = [[-1, 1, "Conv", [16, 3, 2]], [-1, 1, "SeamProbe", ["c2"]]]
        model, _ = parse_model({"nc": 1, "backbone": layers, "head": []}, ch=3, verbose=False)
        assert isinstance(model[1], SeamProbe) and model[1].c1 == 16  # the previous row's output channels


# Lightning -----------------------------------------------------------------------------------------------------------


class _Interrupted(L.LightningModule):
    """A module whose first training step is interrupted (Ctrl-C)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(1, 1)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(2, 1)), batch_size=1)

    def training_step(self, batch: list, batch_idx: int) -> torch.Tensor:
        raise KeyboardInterrupt

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _trainer() -> L.Trainer:
    return L.Trainer(
        max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip


def test_an_interrupt_in_fit_is_a_keyboard_interrupt_and_ctrl_c_works_again() -> None:
    handler = signal.getsignal(signal.SIGINT)
    where = "runners/seams.py fit_or_interrupt"
    try:
        with seam("lightning", "_call_and_handle_interrupt (Ctrl-C in fit: SIGINT ignored, sys.exit(1))", where):
            trainer = _trainer()
            with pytest.raises(SystemExit):
                trainer.fit(_Interrupted())
            assert trainer.interrupted
        signal.signal(signal.SIGINT, handler)
        with pytest.raises(KeyboardInterrupt):
            seams.fit_or_interrupt(_trainer(), _Interrupted())
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, handler)


# Optuna --------------------------------------------------------------------------------------------------------------


def test_base_heartbeat_is_the_interface_optuna_checks() -> None:
    from optuna.storages import _heartbeat

    with seam("optuna", "optuna.storages._heartbeat.BaseHeartbeat", "search/seams.py and search/heartbeat.py"):
        assert optuna_seams.BaseHeartbeat is _heartbeat.BaseHeartbeat
        expected = {"record_heartbeat", "_get_stale_trial_ids", "get_heartbeat_interval"}
        expected.add("get_heartbeat_stale_trial_callback")
        assert _heartbeat.BaseHeartbeat.__abstractmethods__ == expected
        assert _params(_heartbeat.BaseHeartbeat._get_stale_trial_ids) == ["self", "study_id"]
        assert _params(optuna.storages.RDBStorage._get_stale_trial_ids) == ["self", "study_id"]


def test_fail_stale_trials_fails_what_the_storage_calls_stale(tmp_path: Path) -> None:
    class EveryRunningTrial(HeartbeatJournalStorage):
        def stale_trial_ids(self, study_id: int) -> list[int]:
            running = self.get_all_trials(study_id, states=(optuna.trial.TrialState.RUNNING,))
            return [optuna_seams.trial_id(t) for t in running]

    where = "search/seams.py StaleTrials"
    with seam("optuna", "fail_stale_trials asking the storage's _get_stale_trial_ids", where):
        backend = optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.journal"))
        study = create(EveryRunningTrial(backend, 30), "stale", optuna.samplers.RandomSampler(), resume=False)
        trial = study.ask()
        optuna.storages.fail_stale_trials(study)
        assert study.trials[trial.number].state == optuna.trial.TrialState.FAIL


def test_the_rdb_storage_finds_a_silent_trial_stale(tmp_path: Path) -> None:
    with seam("optuna", "RDBStorage._get_stale_trial_ids", "search/seams.py rdb_stale_trial_ids"):
        storage = ReasonedRDBStorage(f"sqlite:///{tmp_path / 'x.db'}", heartbeat_interval=1, grace_period=1)
        study = create(storage, "silent", optuna.samplers.RandomSampler(), resume=False)
        trial = study.ask()
        storage.record_heartbeat(trial._trial_id)
        time.sleep(2.1)
        optuna.storages.fail_stale_trials(study)
        lost = study.trials[trial.number]
        assert lost.state == optuna.trial.TrialState.FAIL and "no heartbeat" in lost.user_attrs[LOST]


def test_trial_id_and_failing_another_trial(tmp_path: Path) -> None:
    with seam("optuna", "FrozenTrial._trial_id and Study._storage", "search/seams.py trial_id and fail_trial"):
        study = create(make_storage(None, tmp_path), "other", optuna.samplers.RandomSampler(), resume=False)
        study.ask()
        running = study.ask()
        frozen = study.trials[running.number]
        assert study._storage.get_trial(optuna_seams.trial_id(frozen)).number == running.number
        optuna_seams.fail_trial(study, frozen, {LOST: "gone"})
        failed = study.trials[running.number]
        assert failed.state == optuna.trial.TrialState.FAIL and failed.user_attrs[LOST] == "gone"


# the package's own imports --------------------------------------------------------------------------------------------


def test_every_third_party_import_is_a_declared_dependency() -> None:
    """Whatever modules/, runners/ and search/ import from outside the standard library is in pyproject.toml's
    dependencies, not only installed because another dependency pulls it in."""
    import importlib.metadata
    import sys

    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in project["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    own = {"modules", "runners", "search", "conf"}
    undeclared = set()
    for path in [p for package in own - {"conf"} for p in (root / package).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for top in {n.split(".")[0] for n in names} - own - set(sys.stdlib_module_names):
                dists = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
                if not dists & declared:
                    undeclared.add(f"{top} ({', '.join(sorted(dists))}) in {path.relative_to(root)}")
    assert not undeclared, f"imported but not declared in pyproject.toml: {sorted(undeclared)}"
