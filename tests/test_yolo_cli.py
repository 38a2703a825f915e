"""``python -m modules.yolo`` and ``attnsearch-yolo``: ultralytics' ``yolo`` with the zoo, run as a user types it.

Every command runs in a fresh process in a temporary directory, offline, with its own ultralytics settings directory
and with a ``sitecustomize`` that refuses (and records) every internet connection, so a download attempt (weights for
the AMP check, a dataset, ...) fails the test. The settings directory holds a font as ``Arial.ttf``: ultralytics'
dataset check (``check_det_dataset``) looks for that font online whenever it is missing there, whatever ``plots`` and
``YOLO_OFFLINE`` say, as it does for ``yolo`` itself.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import matplotlib
import numpy as np
import onnxruntime as ort
import pytest
import torch
import ultralytics
from ultralytics.nn.tasks import torch_safe_load

import modules
from modules.yolo import AttnBlock
from runners import prepare_digits
from search.placement import Placed, apply, export_yaml, sites

BIN = Path(sys.executable).parent
PYTHON_M = [sys.executable, "-m", "modules.yolo"]
SCRIPT = [str(BIN / "attnsearch-yolo")]
YOLO = [str(BIN / "yolo")]
TINY = ["imgsz=64", "device=cpu", "workers=0", "plots=False"]
NO_NETWORK = """
import os, socket

def _refuse(*args, **kwargs):
    with open(os.environ["TEST_NETWORK_LOG"], "a") as log:
        log.write(f"{args!r}\\n")
    raise OSError("network blocked by the test")

def _guard(method):
    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(address)
        return method(self, address)
    return guarded

socket.socket.connect = _guard(socket.socket.connect)
socket.socket.connect_ex = _guard(socket.socket.connect_ex)
socket.getaddrinfo = _refuse
"""


def save_like_search(placed: Placed, path: Path) -> Path:
    """A trial checkpoint as ``search.evaluate`` writes it (``_save``)."""
    model = copy.deepcopy(placed.model).half()
    stamp = {"date": datetime.now().isoformat(), "version": ultralytics.__version__}
    torch.save({"model": model, "train_args": {}, "epoch": -1, **stamp}, path)
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``data.yaml`` (digits, 8 train / 4 val at 64 px), ``attn.yaml`` and ``attn.pt``."""
    root = tmp_path_factory.mktemp("yolo_cli")
    data = prepare_digits(root=root / "digits", n_train=8, n_val=4, imgsz=64)
    (root / "data.yaml").write_text(data.read_text())  # its dataset path is absolute
    placed = apply("yolov8n.yaml", {15: "se", 21: "cbam"})
    export_yaml(placed, root / "attn.yaml")
    save_like_search(placed, root / "attn.pt")
    fonts = root / "config" / "Ultralytics"
    fonts.mkdir(parents=True)
    shutil.copy(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf", fonts / "Arial.ttf")
    (root / "offline").mkdir()
    (root / "offline" / "sitecustomize.py").write_text(NO_NETWORK)
    return root


def cli(command: list[str], *args: str, cwd: Path, safe_load: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``command args`` in ``cwd`` offline; stdout and stderr together in ``.stdout``."""
    env = {
        **os.environ,
        "YOLO_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "YOLO_CONFIG_DIR": str(cwd / "config"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(cwd / "offline"), os.environ.get("PYTHONPATH")])),
        "TEST_NETWORK_LOG": str(cwd / "network.log"),
    }
    for name in ("ULTRALYTICS_SAFE_LOAD", "PYTEST_CURRENT_TEST"):  # the latter makes ultralytics write into its package
        env.pop(name, None)
    if safe_load:
        env["ULTRALYTICS_SAFE_LOAD"] = "1"
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600
    )


def ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, out.stdout[-3000:]
    return out.stdout


def attn_keys(checkpoint: Path) -> list[str]:
    """The blocks of a checkpoint's model, loaded in this process."""
    model = torch_safe_load(checkpoint)[0]["model"]
    return [m.key for m in model.model if isinstance(m, AttnBlock)]


def assert_no_connection(root: Path) -> None:
    log = root / "network.log"
    assert not log.exists(), log.read_text()


def run_onnx(path: Path) -> tuple[int, ...]:
    session = ort.InferenceSession(str(path))
    return session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, 64, 64), np.float32)})[0].shape


def test_a_checkpoint_of_every_block_loads_weights_only(tmp_path: Path) -> None:
    """As under ``ULTRALYTICS_SAFE_LOAD=1``: ultralytics allow-lists torch's and its layers, ``modules.yolo`` ours."""
    keys = modules.available()
    indices = [s.index for s in sites("yolov8n.yaml", "all")][: len(keys)]
    for gate in (False, True):
        placed = apply("yolov8n.yaml", dict(zip(indices, keys, strict=True)), identity_init=gate)
        path = save_like_search(placed, tmp_path / "a.pt")
        model = torch_safe_load(path, safe_only=True)[0]["model"]  # torch.load(weights_only=True)
        assert sorted(m.key for m in model.model if isinstance(m, AttnBlock)) == sorted(keys)


@pytest.mark.slow
def test_a_bad_argument_fails_as_it_does_with_yolo(work: Path) -> None:
    theirs = cli(YOLO, "train", "bogus=1", cwd=work)
    assert theirs.returncode != 0
    for command in (PYTHON_M, SCRIPT):
        ours = cli(command, "train", "bogus=1", cwd=work)
        assert ours.returncode == theirs.returncode
        assert "'bogus' is not a valid YOLO argument" in ours.stdout


@pytest.mark.slow
def test_the_exported_yaml_trains_validates_predicts_and_exports(work: Path) -> None:
    plain = cli(YOLO, "train", "model=attn.yaml", "data=data.yaml", "epochs=1", *TINY, cwd=work)
    assert plain.returncode != 0 and "KeyError: 'AttnBlock'" in plain.stdout  # why this command exists
    project = [f"project={work / 'runs'}", "exist_ok=True"]  # a relative one is under ultralytics' runs_dir
    ok(cli(PYTHON_M, "train", "model=attn.yaml", "data=data.yaml", "epochs=1", "batch=4", *TINY, *project, cwd=work))
    last = work / "runs" / "train" / "weights" / "last.pt"
    assert (work / "runs" / "train" / "results.csv").is_file()
    assert attn_keys(last) == ["se", "cbam"]  # modules.yolo.AttnBlock instances: not a class of __main__ pickled

    val = ["val", f"model={last}", "data=data.yaml", "save_json=True", "batch=2", *TINY, *project]
    out = ok(cli(PYTHON_M, *val, cwd=work))
    assert "all          4" in out
    assert (work / "runs" / "val" / "predictions.json").is_file()

    image = next((work / "digits").rglob("images/val/*.png"))
    ok(cli(PYTHON_M, "predict", f"model={last}", f"source={image}", *TINY, *project, cwd=work))
    assert (work / "runs" / "predict" / f"{image.stem}.jpg").is_file()  # saved, as `yolo predict` saves

    ok(cli(PYTHON_M, "export", f"model={last}", "format=onnx", "simplify=False", "imgsz=64", cwd=work))
    assert run_onnx(last.with_suffix(".onnx")) == (1, 4 + 10, 84)  # boxes and the 10 digit classes at 3 strides
    assert_no_connection(work)


@pytest.mark.slow
def test_a_search_checkpoint_under_safe_load_trains_validates_and_exports(work: Path) -> None:
    """The console script, with ``ULTRALYTICS_SAFE_LOAD=1``: ``yolo`` itself refuses the checkpoint, ours loads it."""
    project = f"project={work / 'safe'}"
    val = ["val", "model=attn.pt", "data=data.yaml", "batch=2", *TINY, project, "exist_ok=True"]
    plain = cli(YOLO, *val, cwd=work, safe_load=True)
    assert plain.returncode != 0 and "references types outside the supported" in plain.stdout
    assert "all          4" in ok(cli(SCRIPT, *val, cwd=work, safe_load=True))

    train = ["train", "model=attn.pt", "data=data.yaml", "epochs=1", "batch=4", *TINY, project, "name=train"]
    out = ok(cli(SCRIPT, *train, cwd=work, safe_load=True))
    assert "Transferred" in out
    last = work / "safe" / "train" / "weights" / "last.pt"
    assert attn_keys(last) == ["se", "cbam"]

    ok(cli(SCRIPT, "export", "model=attn.pt", "format=onnx", "simplify=False", "imgsz=64", cwd=work, safe_load=True))
    assert run_onnx(work / "attn.onnx") == (1, 4 + 80, 84)  # the search checkpoint keeps the YAML's 80 classes
    assert_no_connection(work)
