"""Search workers on a real one-node SLURM cluster through Hydra's submitit launcher (.ci/run starts the cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from search.study import make_storage


@pytest.mark.skipif(not os.environ.get("ATTNSEARCH_TEST_SLURM"), reason="no SLURM cluster (.ci/run starts one)")
def test_slurm_multirun_workers_share_one_study(tmp_path: Path) -> None:
    journal = tmp_path / "study.journal"
    cmd = [
        sys.executable, "-m", "search", "-m", "hydra/launcher=slurm",
        "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=15", f"hydra.launcher.submitit_folder={tmp_path}/%j",
        f"hydra.sweep.dir={tmp_path}/sweep", "experiment=smoke", "search.worker=range(2)",
        f"search.storage={journal}", "search.study_name=slurm", "search.resume=true", "search.n_trials=4",
    ]  # fmt: skip
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Submitted" in out.stdout + out.stderr or (tmp_path / "sweep" / "0").is_dir()
    study = optuna.load_study(study_name="slurm", storage=make_storage(str(journal), tmp_path))
    finished = [
        t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED") and not t.user_attrs.get("over_quota")
    ]
    assert len(finished) == 4  # two array tasks, one quota
    assert {t.user_attrs["worker"].split(":")[1] for t in study.trials if "worker" in t.user_attrs} <= {"0", "1"}
    for job in ("0", "1"):  # each worker wrote the study's outputs when it finished
        assert (tmp_path / "sweep" / job / "trials.csv").is_file()
