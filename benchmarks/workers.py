"""Many workers on one study, with faults: the coordination of a real search on a cheap evaluation.

Each worker process runs the search's own ``Objective`` (quota, architecture claims, reuse, failure limits), repeat
claims (``search.repeats``: ``--repeats`` per architecture, idle workers helping with other trials' repeats) and
``workers.run`` loop on a shared storage; only a training is a sleep. Faults: one worker
is killed with SIGKILL in the middle of a trial and restarted, and one architecture always raises. That architecture
is queued ``MAX_FAILURES + 2`` times before the sampled trials (each worker samples with a seed of its own): it raises
exactly ``MAX_FAILURES`` times and is proposed again after it is given up, even when the kill hits one of its tries
(a killed try does not count).

    python benchmarks/workers.py                       # journal file storage, 1, 2 and 4 workers
    python benchmarks/workers.py --storage postgresql+psycopg2://user@127.0.0.1:5432/db

Prints: workers, trials requested, finished, failed trials (raised: counted, the architecture is given up after
``search.max_failures``; killed: replaced), lost (must be 0), duplicates (architectures trained by two trials: must
be 0), trainings (repeats trained), helped (of them, by idle workers for another's trial), repeat duplicates (a
repeat trained twice: must be 0), short (completed trials without all their repeats: must be 0), trials per minute
and scaling.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import optuna

from search.heartbeat import LOST

SITES = ["1", "2", "3", "4"]
CANDIDATES = {"se": {"reduction": [4, 8, 16]}, "eca": {}}
FAILING = "4:eca"  # this architecture always raises
FAILING_PARAMS = {"slot0.site": "4", "slot0.block": "eca"}
MAX_FAILURES = 2  # search.max_failures: the failing architecture is given up after this many raises
HEARTBEAT = 2  # search.heartbeat: a trial silent for 4 of them is failed; at 1 s, CI on a loaded 2-core machine once
#               counted a second killed trial (most likely a live one's heartbeat came late)


def worker(storage_url: str, study_name: str, n_trials: int, work: float, seed: int, repeats: int, log: str) -> None:
    """One worker: the real objective, loop and repeat claims, sampling with ``seed``; a training is a sleep of
    ``work`` seconds, appended to ``log`` as ``key repeat pid helper`` when it finishes."""
    from search import space, workers
    from search.objective import Objective
    from search.repeats import Repeats, help_one
    from search.study import make_storage

    def trained(key: str, repeat: int, helper: bool) -> None:
        with open(log, "a") as f:  # one short line per write: appends do not interleave
            f.write(f"{key} {repeat} {os.getpid()} {int(helper)}\n")

    def evaluate(trial: optuna.Trial, arch: space.Architecture, loggers: list) -> tuple[float, float]:
        trial.set_user_attr("trained_by", os.getpid())
        key = trial.user_attrs["arch_key"]

        def train(repeat: int, earlier: list | None) -> tuple[float, list[float]]:
            time.sleep(work)
            if space.describe(arch) == FAILING:
                raise RuntimeError("injected failure")
            trained(key, repeat, helper=False)
            return len(arch) * 0.1 + repeat / 1000, [len(arch) * 0.1]

        units = Repeats(trial.study, key, repeats, repeats, settle=0.2, poll=0.2, heartbeat=HEARTBEAT)
        units.run(train, lambda values: True, lambda: trial.set_user_attr("repeat_metrics", units.ordered()[0]))
        values = units.ordered()[0]
        return sum(values) / len(values), float(len(arch))

    def help_train(t: optuna.trial.FrozenTrial, repeat: int) -> tuple[float, list[float]]:
        time.sleep(work)
        trained(t.user_attrs["arch_key"], repeat, helper=True)
        return len(space.from_json(t.user_attrs["arch"])) * 0.1 + repeat / 1000, [0.0]

    storage = make_storage(storage_url, Path("."), heartbeat=HEARTBEAT)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=optuna.samplers.RandomSampler(seed))
    objective = Objective(
        evaluate, SITES, CANDIDATES, max_blocks=1, n_trials=n_trials, max_failures=MAX_FAILURES, poll=0.2
    )
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    helper = lambda study: help_one(study, repeats, help_train, settle=0.2, heartbeat=HEARTBEAT)  # noqa: E731
    workers.run(study, objective, n_trials, poll=0.2, helper=helper)


def simulate(
    storage_url: str, n_workers: int, n_trials: int, work: float = 0.3, kill: bool = True, repeats: int = 2
) -> dict:
    """Run ``n_workers`` worker processes on a fresh study of ``repeats`` repeats per architecture; kill and restart
    one mid-trial when ``kill``."""
    from search.study import create, make_storage

    name = f"sim-{n_workers}-{time.time_ns()}"
    study = create(
        make_storage(storage_url, Path("."), heartbeat=HEARTBEAT), name, optuna.samplers.RandomSampler(0), False
    )
    for _ in range(MAX_FAILURES + 2):
        study.enqueue_trial(FAILING_PARAMS)
    log = Path(tempfile.mkdtemp()) / "trainings.log"
    log.touch()
    cmd = [sys.executable, __file__, "worker", storage_url, name, str(n_trials), str(work), str(repeats), str(log)]
    procs = [subprocess.Popen([*cmd, str(seed)]) for seed in range(n_workers)]
    if kill:
        _kill_mid_trial(study, procs[0])
        procs.append(subprocess.Popen([*cmd, str(n_workers)]))  # the restarted worker, with a seed of its own
    for p in procs:
        p.wait(timeout=600)
    trials = study.get_trials(deepcopy=False)
    first = min(t.datetime_start for t in trials if t.datetime_start)
    last = max(t.datetime_complete for t in trials if t.datetime_complete)
    minutes = (last - first).total_seconds() / 60  # from the first trial's start: process start-up not counted
    lines = [line.split() for line in log.read_text().splitlines()]
    runs = Counter((key, repeat) for key, repeat, _, _ in lines)
    complete = [t for t in trials if t.state.name == "COMPLETE" and not t.user_attrs.get("over_quota")]
    return {
        "workers": n_workers,
        **_count(study, n_trials),
        "architectures": len({t.user_attrs["arch_key"] for t in complete}),
        "trainings": len(lines),
        "helped": sum(helper == "1" for *_, helper in lines),
        "repeat_duplicates": sum(n - 1 for n in runs.values()),
        "short": sum(len(t.user_attrs.get("repeat_metrics", [])) != repeats for t in complete),
        "trials_per_min": round(n_trials / minutes, 1),
    }


def _kill_mid_trial(study: optuna.Study, proc: subprocess.Popen) -> None:
    """SIGKILL ``proc`` while it is training (its trial RUNNING with an evaluation under way)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        if any(t.user_attrs.get("trained_by") == proc.pid for t in running):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.05)
    raise TimeoutError("the worker to kill never started a trial")


def _count(study: optuna.Study, requested: int) -> dict:
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("over_quota")]
    states = Counter(t.state.name for t in trials)
    finished = states["COMPLETE"] + states["PRUNED"]
    raised = sum(t.state.name == "FAIL" and "reason" in t.user_attrs for t in trials)
    trained = Counter(
        t.user_attrs["arch_key"]
        for t in trials
        if t.state.name == "COMPLETE" and "trained_by" in t.user_attrs and "reused_from" not in t.user_attrs
    )
    return {
        "requested": requested,
        "finished": finished,
        "raised": raised,
        "killed": states["FAIL"] - raised,
        "lost": requested - finished - raised + states["RUNNING"],
        "duplicates": sum(n - 1 for n in trained.values()),
        "why_killed": [
            t.user_attrs.get(LOST, "no reason")
            for t in trials
            if t.state.name == "FAIL" and "reason" not in t.user_attrs
        ],
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[8]), int(sys.argv[6]),
               sys.argv[7])  # fmt: skip
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=None, help="storage URL (default: a journal file in a temp dir)")
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--work", type=float, default=2.0, help="seconds per evaluation")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=2, help="search.repeats: trainings per architecture")
    args = parser.parse_args()
    storage = args.storage or str(Path(tempfile.mkdtemp()) / "study.journal")
    rows = [simulate(storage, n, args.trials, args.work, repeats=args.repeats) for n in args.workers]
    base = rows[0]["trials_per_min"]
    print(
        "| workers | requested | finished | raised | killed | lost | duplicates | trainings | helped | "
        "repeat duplicates | short | trials/min | scaling |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workers']} | {r['requested']} | {r['finished']} | {r['raised']} | {r['killed']} | {r['lost']} | "
            f"{r['duplicates']} | {r['trainings']} | {r['helped']} | {r['repeat_duplicates']} | {r['short']} | "
            f"{r['trials_per_min']} | {r['trials_per_min'] / base:.2f}× |"
        )


if __name__ == "__main__":
    main()
