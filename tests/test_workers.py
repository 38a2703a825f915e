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
    assert result["requested"] == requested
    assert result["lost"] == 0, result  # exactly the quota finished or raised, though a worker died mid-trial
    assert result["duplicates"] == 0, result
    assert result["killed"] == 1, result  # the killed worker's trial, failed by heartbeat and replaced
    assert result["raised"] <= 2, result  # the always-raising architecture is tried at most max_failures times


def test_journal_workers_survive_a_kill(tmp_path: Path) -> None:
    _check(_bench().simulate(str(tmp_path / "study.journal"), n_workers=3, n_trials=12, work=0.3), 12)


@pytest.mark.skipif(not os.environ.get("ATTNSEARCH_TEST_POSTGRES"), reason="no PostgreSQL server (.ci/run starts one)")
def test_postgres_workers_survive_a_kill() -> None:
    _check(_bench().simulate(os.environ["ATTNSEARCH_TEST_POSTGRES"], n_workers=3, n_trials=12, work=0.3), 12)
