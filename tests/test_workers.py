"""Several worker processes on one study, with a worker killed mid-trial and an architecture that always raises."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "workers.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_workers", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(result: dict, requested: int) -> None:
    """Exact counts: the always-raising architecture (queued first) raised ``MAX_FAILURES`` times and was given up,
    the killed worker's trial was failed by heartbeat and replaced, and the rest of the quota finished, trained once."""
    raised = _bench().MAX_FAILURES
    expected = {"requested": requested, "finished": requested - raised, "raised": raised, "killed": 1, "lost": 0}
    counts = {k: result[k] for k in [*expected, "duplicates"]}
    assert counts == {**expected, "duplicates": 0}, f"failed without a reason: {result['why_killed']}"
    assert result["repeat_duplicates"] == 0 and result["short"] == 0  # every repeat trained once, none missing
    assert result["trainings"] >= 2 * result["architectures"]  # 2 repeats of each (a killed trial's may be extra)


def test_journal_workers_survive_a_kill(tmp_path: Path) -> None:
    _check(_bench().simulate(str(tmp_path / "study.journal"), n_workers=3, n_trials=12, work=0.3), 12)


@pytest.mark.skipif(not os.environ.get("ATTNSEARCH_TEST_POSTGRES"), reason="no PostgreSQL server (.ci/run starts one)")
def test_postgres_workers_survive_a_kill() -> None:
    _check(_bench().simulate(os.environ["ATTNSEARCH_TEST_POSTGRES"], n_workers=3, n_trials=12, work=0.3), 12)


@pytest.mark.skipif(not os.environ.get("ATTNSEARCH_TEST_POSTGRES"), reason="no PostgreSQL server (.ci/run starts one)")
def test_simultaneous_first_starts_on_a_fresh_database() -> None:
    """Optuna's schema creation races when workers start together on an empty database; every worker must start."""
    import subprocess
    import sys
    import time

    import psycopg2

    server = os.environ["ATTNSEARCH_TEST_POSTGRES"]
    name = f"fresh_{time.time_ns()}"
    conn = psycopg2.connect(server.replace("postgresql+psycopg2", "postgresql"))
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {name}")
    url = server.rsplit("/", 1)[0] + f"/{name}"
    start = time.time() + 3  # every worker imports first, then all create at this moment
    code = (
        "import time, optuna; from pathlib import Path; from search.study import create, make_storage; "
        f"time.sleep(max(0, {start} - time.time())); "
        f"create(make_storage('{url}', Path('.')), 'race', optuna.samplers.RandomSampler(), resume=True)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(5)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, errors
