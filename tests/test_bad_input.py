"""Every bad value of every group, as a new user types it: one line naming the key and what is valid, exit code 2.

Each case runs the real command line in-process (``search.cli.run`` on the Hydra app) from an empty folder and checks
that nothing was written there: the configuration is validated before Hydra makes a run directory.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from search.__main__ import main as search_main
from search.cli import run
from search.inspect import main as inspect_main
from search.pareto import main as pareto_main
from search.validate import check_inspect, check_pareto, check_search


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files a user might pass by mistake: a text file as weights, folders that are not datasets."""
    root = tmp_path_factory.mktemp("bad")
    (root / "notes.pt").write_text("not a checkpoint")
    torch.save({"unrelated": torch.zeros(3)}, root / "other.pt")
    (root / "empty").mkdir()
    (root / "nolabels" / "images" / "train").mkdir(parents=True)
    (root / "nolabels" / "images" / "val").mkdir(parents=True)
    (root / "nolabels" / "classes.txt").write_text("a\n")
    for split in ("train", "val"):
        (root / "nolabels" / "images" / split / "x.jpg").write_bytes(b"")
    (root / "noimages" / "images" / "train").mkdir(parents=True)
    (root / "noimages" / "images" / "val").mkdir(parents=True)
    (root / "noimages" / "classes.txt").write_text("a\n")
    (root / "data.yaml").write_text("names: [a]\ntrain: nowhere/train\nval: nowhere/val\n")
    return {p.name: p for p in root.iterdir()}


# (arguments, the key the message must name, what the message must say is valid)
SEARCH_CASES = [
    (["trainer.epochs=0"], "trainer.epochs", "at least 1"),
    (["trainer.epochs=-1"], "trainer.epochs", "at least 1"),
    (["trainer.epochs=abc"], "trainer.epochs", "not an integer"),
    (["trainer.batch=0"], "trainer.batch", "at least 1"),
    (["trainer.batch=x"], "trainer.batch", "not an integer"),
    (["trainer.imgsz=-160"], "trainer.imgsz", "at least 32"),
    (["trainer.imgsz=16"], "trainer.imgsz", "at least 32"),
    (["trainer.nbs=0"], "trainer.nbs", "at least 1"),
    (["trainer.lr0=-1"], "trainer.lr0", "above 0"),
    (["trainer.lr0=0"], "trainer.lr0", "above 0"),
    (["trainer.lr0=fast"], "trainer.lr0", "not a number"),
    (["trainer.lrf=0"], "trainer.lrf", "(0, 1]"),
    (["trainer.lrf=2"], "trainer.lrf", "(0, 1]"),
    (["trainer.momentum=1.5"], "trainer.momentum", "[0, 1]"),
    (["trainer.weight_decay=-1"], "trainer.weight_decay", "at least 0"),
    (["trainer.warmup_epochs=-1"], "trainer.warmup_epochs", "at least 0"),
    (["trainer.warmup_momentum=2"], "trainer.warmup_momentum", "[0, 1]"),
    (["trainer.mosaic=1.5"], "trainer.mosaic", "[0, 1]"),
    (["trainer.mixup=-0.1"], "trainer.mixup", "[0, 1]"),
    (["trainer.hsv_h=2"], "trainer.hsv_h", "[0, 1]"),
    (["trainer.fliplr=2"], "trainer.fliplr", "[0, 1]"),
    (["trainer.flipud=-1"], "trainer.flipud", "[0, 1]"),
    (["trainer.fraction=0"], "trainer.fraction", "(0, 1]"),
    (["trainer.degrees=-5"], "trainer.degrees", "at least 0"),
    (["trainer.scale=-1"], "trainer.scale", "at least 0"),
    (["trainer.grad_clip=-1"], "trainer.grad_clip", "at least 0"),
    (["trainer.close_mosaic=-1"], "trainer.close_mosaic", "at least 0"),
    (["trainer.workers=-1"], "trainer.workers", "at least 0"),
    (["trainer.seed=-1"], "trainer.seed", "[0, 2^32)"),
    (["trainer.cache=maybe"], "trainer.cache", "false, ram, disk"),
    (["trainer.ema=perhaps"], "trainer.ema", "true, false"),
    (["trainer.cos_lr=perhaps"], "trainer.cos_lr", "true, false"),
    (["trainer.optimizer=Nope"], "trainer.optimizer", "AdamW"),
    (["trainer.precision=17-mixed"], "trainer.precision", "16-mixed"),
    (["trainer.accelerator=abacus"], "trainer.accelerator", "cpu"),
    (["trainer.devices=99"], "trainer.devices", "this machine's"),
    (["trainer.devices=0"], "trainer.devices", "auto"),
    (["trainer.strategy=ddp_spawn"], "trainer.strategy", "not a spawning one"),
    (["trainer.nosuch=1"], "trainer.nosuch", "epochs"),
    (["+trainer.overrides.nosuch=1"], "trainer.overrides", "docs.ultralytics.com"),
    (["search.n_trials=abc"], "search.n_trials", "not an integer"),
    (["search.n_trials=0"], "search.n_trials", "at least 1"),
    (["search.max_blocks=abc"], "search.max_blocks", "not an integer"),
    (["search.max_blocks=0"], "search.max_blocks", "at least 1"),
    (["search.objective=speed"], "search.objective", "gflops, params, latency"),
    (["search.max_gflops=-1"], "search.max_gflops", "above 0"),
    (["search.max_gflops=abc"], "search.max_gflops", "not a number"),
    (["search.max_params=0"], "search.max_params", "above 0"),
    (["search.imgsz=8"], "search.imgsz", "at least 32"),
    (["search.seed=-1"], "search.seed", "at least 0"),
    (["search.baseline_epochs=0"], "search.baseline_epochs", "at least 1"),
    (["+search.baseline_train.lr=0.01"], "search.baseline_train.lr", "e.g. lr0, warmup_epochs"),
    (["search.baseline_train.lr0=-1"], "search.baseline_train.lr0", "above 0"),
    (["search.baseline_train=3"], "search.baseline_train", "Dict[str, Any]"),
    (["search.early_stop.margin=wide"], "search.early_stop.margin", "not a number"),
    (["search.early_stop.confidence=1.5"], "search.early_stop.confidence", "(0, 1)"),
    (["search.early_stop.min_epoch=0"], "search.early_stop.min_epoch", "at least 1"),
    (["search.early_stop.enabled=maybe"], "search.early_stop.enabled", "true, false"),
    (["search.max_failures=0"], "search.max_failures", "at least 1"),
    (["search.repeats=0"], "search.repeats", "at least 1"),
    (["search.repeats=3", "search.max_repeats=2"], "search.max_repeats", "at least search.repeats (3)"),
    (["search.max_repeats=many"], "search.max_repeats", "int"),
    (["search.baselines=0"], "search.baselines", "at least 1"),
    (["search.baselines=3", "search.repeats=2"], "search.baselines", "1 to the most repeats an architecture gets (2)"),
    (["search.baselines=2", "search.repeats=2", "model.weights={notes.pt}"], "search.baselines", "one checkpoint"),
    (["search.block_lr_mult=0"], "search.block_lr_mult", "above 0"),
    (["search.gate=maybe"], "search.gate", "true, false"),
    (["search.heartbeat=0"], "search.heartbeat", "at least 1"),
    (["search.resume=maybe"], "search.resume", "true, false"),
    (["search.sample_hparams=maybe"], "search.sample_hparams", "true, false"),
    (["search.worker=-1"], "search.worker", "at least 0"),
    (["search.study_name= "], "search.study_name", "non-empty"),
    (["search.nosuch=1"], "search.nosuch", "n_trials"),
    (["model=nosuch"], "model", "yolov8n"),
    (["model.task=segment"], "model.task", "detect, classify"),
    (["model.name=null"], "model.name", "must not be null"),
    (["model.weights=/nonexistent/base.pt"], "model.weights", "no such file"),
    (["model.weights={notes.pt}"], "model.weights", "checkpoint"),
    (["model.weights={other.pt}"], "model.weights", "fits"),
    (["data=/nonexistent/data.yaml"], "data", "no such file"),
    (["data=path"], "data.path", "missing"),
    (["data={empty}"], "data", "No YAML"),
    (["data={nolabels}"], "data", "no label files"),
    (["data={noimages}"], "data", "no images"),
    (["data={data.yaml}"], "data", "nowhere"),
    (["data.n_train=0"], "data.n_train", "at least 1"),
    (["data.n_val=-1"], "data.n_val", "at least 1"),
    (["data.imgsz=8"], "data.imgsz", "at least 16"),
    (["data=digits_multiscale", "data.sizes=[0.5,0.2]"], "data.sizes", "0 < low <= high <= 1"),
    (["data=digits_multiscale", "data.sizes=[0,1]"], "data.sizes", "0 < low <= high <= 1"),
    (["data=digits_multiscale", "data.sizes=0.5"], "data.sizes", "[low, high]"),
    (["model=resnet18", "placement=stages"], "data", "data=digits_cls"),
    (["model=resnet18"], "placement", "stages"),
    (["placement=middle"], "placement", "neck"),
    (["placement.layers=[4,999]"], "999", "valid"),
    (["attn=bogus"], "attn", "cbam"),
    (["logger=loud"], "logger", "wandb"),
    (["logger=wandb", "logger.mode=loud"], "logger.mode", "offline, online, disabled"),
]


def _run(capsys: pytest.CaptureFixture, folder: Path, main, validate, config: str, args: list[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        run(main, [*args, f"hydra.run.dir={folder / 'run'}"], config_name=config, validate=validate)
    return exit_info.value.code, capsys.readouterr().err


def _check(code: int, err: str, key: str, valid: str, folder: Path, seconds: float) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert key in lines[0] and valid in lines[0], lines[0]
    assert "Traceback" not in err
    assert list(folder.iterdir()) == [], "bad input left files behind"
    assert seconds < 60, f"took {seconds:.0f} s to refuse"


def test_the_list_is_long_and_covers_every_group() -> None:
    keys = {case[1].split(".")[0] for case in SEARCH_CASES}
    assert len(SEARCH_CASES) >= 50
    assert {"trainer", "search", "model", "data", "placement", "attn", "logger"} <= keys


@pytest.mark.parametrize(
    ("args", "key", "valid"), SEARCH_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_bad_search_value(
    capsys: pytest.CaptureFixture, tmp_path: Path, files: dict[str, Path], args: list[str], key: str, valid: str
) -> None:
    for name, path in files.items():
        args = [a.replace(f"{{{name}}}", str(path)) for a in args]
    start = time.perf_counter()
    code, err = _run(capsys, tmp_path, search_main, check_search, "config", ["experiment=smoke", *args])
    _check(code, err, key, valid, tmp_path, time.perf_counter() - start)


@pytest.mark.parametrize(
    ("args", "key", "valid"),
    [
        (["imgsz=0"], "imgsz", "at least 32"),
        (["imgsz=abc"], "imgsz", "not an integer"),
        (["model=nosuch"], "model", "yolov8n"),
        (["placement.layers=[999]"], "999", "valid"),
        (["attn=bogus"], "attn", "cbam"),
    ],
)
def test_bad_inspect_value(
    capsys: pytest.CaptureFixture, tmp_path: Path, args: list[str], key: str, valid: str
) -> None:
    start = time.perf_counter()
    code, err = _run(capsys, tmp_path, inspect_main, check_inspect, "inspect", args)
    _check(code, err, key, valid, tmp_path, time.perf_counter() - start)


@pytest.mark.parametrize(
    ("args", "key", "valid"),
    [
        ([], "search.storage", "journal file path or a database URL"),
        (["search.storage=/nonexistent/study.journal"], "search.storage", "no such journal file"),
        (["search.storage=x.journal", "logger.mode=loud"], "logger.mode", "offline"),
    ],
)
def test_bad_pareto_value(capsys: pytest.CaptureFixture, tmp_path: Path, args: list[str], key: str, valid: str) -> None:
    if "search.storage=x.journal" in args:
        (tmp_path.parent / "x.journal").write_text("")
        args = [a.replace("x.journal", str(tmp_path.parent / "x.journal")) for a in args]
    start = time.perf_counter()
    code, err = _run(capsys, tmp_path, pareto_main, check_pareto, "config", args)
    _check(code, err, key, valid, tmp_path, time.perf_counter() - start)
