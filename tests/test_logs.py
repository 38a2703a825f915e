"""What a search prints where it really runs: plain lines in a log file, bars in a terminal, nothing said per trial
that is the same every time; ``logger.verbose=true`` brings the libraries' full output back."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

# Lightning's device and tip lines, torch's LeafSpec deprecation warning (via Lightning), ultralytics' dataset scans,
# optimizer line and model note: each once per fit before
REPEATED = ("GPU available", "Tip:", "LeafSpec", "Scanning", "optimizer:", "Overriding model.yaml")
EPOCH_LINE = r"^trial {} epoch 1/1: map50_95 \d\.\d{{4}}, \d+\.\d s$"


def _search(run_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "search", "experiment=smoke", "search.n_trials=2", *args, f"hydra.run.dir={run_dir}"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}


def _to_file(tmp_path: Path, *args: str) -> str:
    log = tmp_path / "search.log"
    with log.open("wb") as out:
        cmd = _search(tmp_path / "run", *args)
        proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), stdout=out, stderr=subprocess.STDOUT, timeout=600)
    text = log.read_bytes().decode()  # read_text() would turn carriage returns into newlines
    assert proc.returncode == 0, text[-3000:]
    return text


@pytest.mark.slow
def test_a_log_file_gets_one_line_per_epoch_and_per_trial(tmp_path: Path) -> None:
    text = _to_file(tmp_path, "search.baseline_epochs=2")
    assert "\r" not in text, "progress-bar frames in a log file"
    assert re.search(r"^baseline epoch 1/2: \d+\.\d s$", text, re.M), text  # not validated (search.baseline_train.val)
    assert re.search(r"^baseline epoch 2/2: map50_95 \d\.\d{4}, \d+\.\d s$", text, re.M), text
    for number in (0, 1):
        assert re.search(EPOCH_LINE.format(number), text, re.M), text
        assert re.search(rf"^trial {number} complete: map50_95 .*; study {number + 1}/2, front \d+$", text, re.M), text
    for repeated in REPEATED:
        assert repeated not in text, text
    assert len(text.encode()) < 4000, text  # 2 trials wrote about 8 KB before, 90% of it bar frames and repeats


@pytest.mark.slow
def test_verbose_brings_the_full_output_back(tmp_path: Path) -> None:
    text = _to_file(tmp_path, "search.n_trials=1", "logger.verbose=true")
    assert "\r" in text and "GPU available" in text and "Overriding model.yaml" in text


@pytest.mark.slow
def test_a_terminal_gets_the_study_bar_and_a_trial_bar(tmp_path: Path) -> None:
    text = _in_terminal(_search(tmp_path / "run"), cwd=tmp_path).decode(errors="replace")
    assert re.search(r"\rstudy: +\d+%\|", text), text[-3000:]
    assert re.search(r"\rtrial 1 epoch 1/1: +\d+%\|", text), text[-3000:]
    assert not re.search(EPOCH_LINE.format(1), text.replace("\r\n", "\n"), re.M), "the bar already shows epochs"
    assert re.search(r"trial 1 complete: map50_95 .*; study 2/2", text), text[-3000:]
    for repeated in REPEATED:
        assert repeated not in text, text[-3000:]


def _in_terminal(cmd: list[str], cwd: Path, timeout: float = 600) -> bytes:
    """Everything ``cmd`` writes to a 40x160 pseudo-terminal that is its stdin, stdout and stderr."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 1.0)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every end of the terminal but ours is closed
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    output = b"".join(chunks)
    assert proc.wait() == 0, output[-3000:]
    return output
