"""``python -m search`` as a user types it: candidate lists, help, printed config, multirun, one-line errors."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from hydra import compose, initialize_config_module

from search.__main__ import main
from search.cli import normalize, options, run
from search.validate import check_search


def cli(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    cmd = [sys.executable, "-m", "search", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def in_process(capsys: pytest.CaptureFixture, tmp_path: Path, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        run(main, [*args, f"hydra.run.dir={tmp_path}"], validate=check_search)
    return exit_info.value.code, capsys.readouterr().err


def test_bad_block_is_one_line_exit_2_no_traceback(tmp_path: Path) -> None:
    out = cli("attn=psa,bogus", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"error: attn: unknown block 'bogus'; valid: {', '.join(options('attn'))} (or 'all')"
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["model=nosuch"], "model: unknown option 'nosuch'; valid: custom, resnet18, resnet50, yolo11n, yolo26n"),
        (["placement=middle"], "placement: unknown option 'middle'; valid: all, backbone, blocks, head, neck"),
        (["nosuchkey=1"], "nosuchkey: no such setting; valid: model, attn, placement, data, trainer, search, logger"),
        (["search.max_gflops=abc"], "search.max_gflops: 'abc' is not a number"),
        (["search.objective=speed"], "search.objective: 'speed'; valid: gflops, params, latency"),
        (["experiment=smoke", "placement.layers=[4,999]"], "placement.layers: 999 is not an insertion site of yolov8n"),
        (["experiment=smoke", "data=/nonexistent/data.yaml"], "data '/nonexistent/data.yaml': no such file or folder"),
        (["experiment=smoke", "model=resnet18", "placement=stages"], "data: a detect dataset does not fit a classify"),
    ],
)
def test_user_errors(capsys: pytest.CaptureFixture, tmp_path: Path, args: list[str], expected: str) -> None:
    code, err = in_process(capsys, tmp_path, *args)
    assert code == 2
    assert err.startswith("error: ") and expected in err and len(err.strip().splitlines()) == 1, err


def test_help_lists_groups_and_usage(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process: the command line's own path through ``run`` is ``test_bad_block_is_one_line_exit_2_no_traceback``."""
    monkeypatch.setattr(sys, "argv", ["search"])
    with pytest.raises(SystemExit) as exit_info:
        run(main, ["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for group in ("attn:", "model:", "placement:", "data:", "trainer:", "search:", "logger:", "experiment:"):
        assert group in out
    assert "python -m search attn=psa,cbam,soca placement=neck" in out


@pytest.mark.parametrize(("typed", "blocks"), [("attn=psa,cbam,soca", ["psa", "cbam", "soca"]), ("attn=all", None)])
def test_candidate_blocks_as_typed_and_all(typed: str, blocks: list[str] | None) -> None:
    """What the command line turns ``attn=...`` into composes to those candidates, in the order typed (in process: the
    subprocess path of the same rewrite is ``test_bad_block_is_one_line_exit_2_no_traceback``)."""
    with initialize_config_module("search.conf", version_base="1.3"):
        cfg = compose("config", overrides=normalize([typed]))
    assert list(cfg.attn) == (blocks or options("attn"))


def test_multirun_runs_one_search_per_value(tmp_path: Path) -> None:
    out = cli(
        "-m", "experiment=smoke", "search.seed=0,1", "search.n_trials=1", f"hydra.sweep.dir={tmp_path}", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(p.parent.name for p in tmp_path.glob("*/trials.csv")) == ["0", "1"]


def test_sigterm_stops_cleanly_and_resume_continues(tmp_path: Path) -> None:
    """SLURM preemption: the running trial is recorded as failed, outputs are written, resume finishes the study."""
    journal = tmp_path / "study.journal"
    args = ["experiment=smoke", f"search.storage={journal}", "search.n_trials=3", "trainer.epochs=3", "attn=[se]"]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "search", *args, f"hydra.run.dir={tmp_path / 'a'}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if journal.exists() and _training(journal):  # mid-training: Lightning's own SIGTERM handling is in play
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, output[-2000:]
    assert "interrupted" in output and (tmp_path / "a" / "trials.csv").is_file()
    assert _count(journal, "FAIL") == 1 and _count(journal, "RUNNING") == 0
    resumed = cli(*args, "search.resume=true", f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _count(journal, "COMPLETE") + _count(journal, "PRUNED") == 3


def test_sigkill_then_resume_fails_the_dead_trial_at_once_with_its_reason(tmp_path: Path) -> None:
    """A worker killed mid-trial and started again on its run: its own dead trial is failed at once, not after the
    heartbeat grace, with a reason, and the study finishes with exit code 0 and every output."""
    journal = tmp_path / "study.journal"
    args = ["experiment=smoke", f"search.storage={journal}", "search.n_trials=3", "trainer.epochs=3", "attn=[se]",
            "logger=wandb", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "search", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and not (journal.exists() and _training(journal)):
        assert proc.poll() is None, "the search ended before a trial was training"
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    (dead,) = _study(journal).get_trials(states=(optuna.trial.TrialState.RUNNING,))
    restart = subprocess.Popen(
        [sys.executable, "-m", "search", *args, "search.resume=true"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    started = time.time()
    grace = 4 * 30  # search.heartbeat's default: the time another worker would need to find the trial stale
    while _study(journal).trials[dead.number].state == optuna.trial.TrialState.RUNNING:
        # well inside the grace, with room for the restart's imports (10 s alone on a slow 2-core machine)
        assert time.time() - started < grace / 2, f"the restarted worker did not fail its dead trial in {grace / 2} s"
        time.sleep(0.2)
    output = restart.communicate(timeout=300)[0]
    assert restart.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    rows = list(csv.DictReader((tmp_path / "run" / "trials.csv").open()))
    failed = next(r for r in rows if int(r["trial"]) == dead.number)
    assert failed["state"] == "FAIL" and "gone" in failed["reason"] and "pid" in failed["reason"], failed
    assert _count(journal, "COMPLETE") + _count(journal, "PRUNED") == 3


def _study(journal: Path) -> optuna.Study:
    from search.study import make_storage

    return optuna.load_study(study_name="attnsearch", storage=make_storage(str(journal), journal.parent))


def _count(journal: Path, state: str) -> int:
    return sum(t.state.name == state for t in _study(journal).trials)


def _training(journal: Path) -> bool:
    """A trial after the baseline is running and has finished one of its epochs (the journal can exist a moment before
    the study is written into it)."""
    try:
        running = _study(journal).get_trials(states=(optuna.trial.TrialState.RUNNING,))
    except KeyError:
        return False
    return any(t.number > 0 and t.user_attrs.get("curve") for t in running)


def test_storage_password_never_printed_or_written(tmp_path: Path) -> None:
    """The password of a storage URL appears in no output, printed config, Hydra file, CSV or W&B run."""
    server = os.environ.get("ATTNSEARCH_TEST_POSTGRES")  # trust auth: any password is accepted
    unreachable = "postgresql+psycopg2://bob:s3cret-pw@127.0.0.1:9/none"  # then the error must not show it
    url = server.replace("postgres@", "postgres:s3cret-pw@") if server else unreachable
    printed = cli(f"search.storage={url}", "--cfg", "job", cwd=tmp_path)
    run_dir = tmp_path / "run"
    args = ["experiment=smoke", "logger=wandb", "search.n_trials=2", f"search.study_name=secret-{time.time_ns()}"]
    out = cli(*args, f"search.storage={url}", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert out.returncode == (0 if server else 2), out.stderr[-2000:]
    for text in (printed.stdout, printed.stderr, out.stdout, out.stderr):
        assert "s3cret-pw" not in text
    for path in run_dir.rglob("*"):
        assert not path.is_file() or b"s3cret-pw" not in path.read_bytes(), path
