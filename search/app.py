"""``run_search(cfg)``: the whole search for one composed config; the CLI entry point is a thin wrapper around it."""

from __future__ import annotations

import functools
import json
import signal
import socket
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from runners.levels import head_levels
from search import report, space, workers
from search.baseline import baseline_settings, baseline_weights
from search.data import dataset_classes, resolve_data
from search.errors import UserError
from search.evaluate import COST_ATTR, DRAWS, Evaluate
from search.inert import describe, inert_sites
from search.intensify import Intensify
from search.logs import quiet
from search.objective import Objective
from search.placement import Site, apply, sites
from search.study import create, keep_settings, make_sampler, make_storage, redact
from search.tracking import Tracker
from search.validate import check_search

LEVELS_ATTR = "baseline_boxes_per_stride"  # study user attribute: the site screen's evidence


@dataclass
class SearchResult:
    """What a search returns: the study, the run directory, the files written and the printed summary."""

    study: optuna.Study
    run_dir: Path
    files: list[Path]
    summary: str
    interrupted: bool = False


def run_search(cfg: DictConfig, run_dir: Path | None = None) -> SearchResult:
    """Run the search described by ``cfg`` (the composed ``conf/config.yaml``); outputs go to ``run_dir``.

    Progress suits where stderr goes: the study's bar and a trial bar in a terminal, plain lines (one per epoch, one
    per finished trial) in a log file. What every trial would print alike (Lightning's device and tip lines,
    ultralytics' dataset scans and model notes, a known deprecation warning) is off. ``logger.verbose=true`` brings
    all of it back, bars included.
    """
    verbose = bool(cfg.logger.verbose)
    with quiet(not verbose):
        return _search(cfg, run_dir, "bar" if verbose or sys.stderr.isatty() else "lines")


def _search(cfg: DictConfig, run_dir: Path | None, progress: str) -> SearchResult:
    run_dir = Path(run_dir or HydraConfig.get().runtime.output_dir)
    s = cfg.search
    worker = f"{socket.gethostname()}:{s.worker}"
    if s.resume:  # first of all: this worker's own trials that died with it need no heartbeat grace
        fail_own_orphans(s, run_dir, worker)
    check_search(cfg)  # again here: a multirun's jobs are checked as they start
    run_dir.mkdir(parents=True, exist_ok=True)
    task = cfg.model.task
    budgets = {"gflops": s.max_gflops, "params": s.max_params}

    data = resolve_data(cfg.data, task)
    nc = len(dataset_classes(data, task))
    where = list(cfg.placement.layers) if cfg.placement.get("layers") else cfg.placement.name
    site_list = sites(cfg.model.name, where=where)
    site_ids = [str(site.index) for site in site_list]
    candidates = {key: dict(node.get("space") or {}) for key, node in cfg.attn.items()}
    if not candidates:
        raise UserError("attn: no candidate block; e.g. attn=psa,cbam,soca")

    metric = "map50_95" if task == "detect" else "top1"
    study = open_study(cfg, run_dir, site_ids, list(candidates), metric)
    study.set_user_attr(DRAWS, int(s.baselines))  # how the report groups repeats (equal on a resume: kept settings)
    settings = instantiate(cfg.trainer)
    # the baseline's progress reads "baseline epoch 2/8"; each trial passes its own label
    fit = functools.partial(_runner(task), data=data, cfg=settings, progress=progress, label="baseline")
    schedule = baseline_settings(settings, s.baseline_epochs, s.baseline_train)
    draws = [
        baseline_weights(cfg.model.name, nc, data, cfg.model.get("weights"), fit, schedule, draw=k)
        for k in range(int(s.baselines))
    ]
    if task == "detect" and s.skip_inert_sites:  # on the first draw: which levels keep boxes hardly moves with a draw
        screened = screen_sites(study, cfg.model.name, site_list, draws[0], nc, data, settings)
        if screened != site_ids:  # a grid sampler's grid holds the sites
            site_ids, study.sampler = screened, make_sampler(s.sampler, screened, list(candidates), int(s.max_blocks))

    config = public_config(cfg)
    tracker = Tracker(cfg.logger.name, run_dir, s.study_name, config, **tracker_settings(cfg))
    evaluate = Evaluate(
        model=cfg.model.name,
        fit=fit,
        weights=draws,
        nc=nc,
        run_dir=run_dir,
        cost=s.objective,
        imgsz=int(s.imgsz),
        budgets=budgets,
        early_stop=_early_stop(s.early_stop),
        metric=metric,
        seed=int(cfg.trainer.seed),
        block_lr_mult=float(s.block_lr_mult),
        gate=bool(s.gate),
        repeats=int(s.repeats),
        intensify=_intensify(s),
        settings=settings,
        heartbeat=float(s.heartbeat),
    )
    objective = Objective(
        evaluate=evaluate,
        sites=site_ids,
        candidates=candidates,
        # the other draws' paths follow from the first's settings and search.baselines (in result_settings)
        scope=json.dumps([result_settings(cfg, metric), nc, str(data), str(draws[0])], default=str),
        max_blocks=int(s.max_blocks),
        sample_hparams=bool(s.sample_hparams) and not cfg.search.sampler._target_.endswith("GridSampler"),
        n_trials=int(s.n_trials),
        max_failures=int(s.max_failures),
        tracker=tracker,
        worker=worker,
    )
    interrupted = _optimize(study, objective, int(s.n_trials), show_bar=progress == "bar", helper=evaluate.help)
    cost_col = COST_ATTR[s.objective]
    files, summary = report.write_all(study, run_dir, cost_col, metric)
    rows = report.trial_rows(study)
    front = {t.number for t in report.pareto_trials(study)}
    tracker.summary(rows, front, cost_col, metric, run_dir / "pareto.png")
    print(f"\nPareto front ({metric} vs {cost_col}):\n{summary}\n\nWritten to {run_dir}:")
    for path in files:
        print(f"  {path}")
    return SearchResult(study, run_dir, files, summary, interrupted)


def fail_own_orphans(s: DictConfig, run_dir: Path, worker: str) -> None:
    """Fail at once the running trials of ``worker`` in the study being resumed whose process is gone."""
    storage = make_storage(s.storage, run_dir, int(s.heartbeat))
    if s.study_name not in {summary.study_name for summary in optuna.get_all_study_summaries(storage)}:
        return
    study = optuna.load_study(study_name=s.study_name, storage=storage)
    for number in workers.fail_orphans(study, worker):
        print(f"trial {number}: failed, its process (this worker, {worker}) is gone", file=sys.stderr)


def screen_sites(
    study: optuna.Study, model: str, site_list: list[Site], weights: Path, nc: int, data: Path, settings: Any
) -> list[str]:
    """The sites a detection search samples: ``site_list`` but the inert ones (``search.inert``).

    The baseline's boxes per head level are measured once per study and kept with it, so every worker and every resume
    screens alike. A head whose output is not one prediction per anchor of its levels keeps every site.
    """
    kept = study.user_attrs.get(LEVELS_ATTR)
    if kept is None:
        try:
            levels = head_levels(apply(model, {}, weights, nc=nc).model, data, settings)
        except ValueError as err:
            print(f"site screen: not applied, every site kept ({err})", file=sys.stderr)
            return [str(site.index) for site in site_list]
        kept = {str(stride): boxes for stride, (_, boxes) in levels.items()}
        study.set_user_attr(LEVELS_ATTR, kept)
    boxes = {int(stride): n for stride, n in kept.items()}
    inert = inert_sites(site_list, boxes)
    print(describe(inert, boxes), file=sys.stderr)
    return [str(site.index) for site in site_list if site not in inert]


def open_study(cfg: DictConfig, run_dir: Path, site_ids: list[str], candidates: list[str], metric: str) -> optuna.Study:
    """Create (or, with ``search.resume``, join) the study; the baseline architecture is queued as its first trial.

    A new study keeps the settings its results depend on (``result_settings``); a resume with others is refused.
    """
    s = cfg.search
    storage = make_storage(s.storage, run_dir, int(s.heartbeat))
    sampler = make_sampler(s.sampler, site_ids, candidates, int(s.max_blocks))
    study = create(storage, s.study_name, sampler, bool(s.resume))
    if keep_settings(study, result_settings(cfg, metric)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([metric, s.objective])
    if not study.trials:
        study.enqueue_trial(space.baseline_params(candidates, int(s.max_blocks)))
    return study


def _optimize(
    study: optuna.Study,
    objective: Objective,
    n_trials: int,
    show_bar: bool = True,
    helper: Callable[[optuna.Study], bool] | None = None,
) -> bool:
    """Run trials until the study holds ``n_trials``; returns whether Ctrl-C or SIGTERM stopped it. With every slot
    taken, ``helper`` trains other workers' repeats (``Evaluate.help``).

    Each trial this worker finishes is a line on stderr (``_trial_line`` and the study's progress); ``show_bar`` draws
    the study's progress bar too.
    """
    done = workers.progress(study)[0]
    bar = tqdm(total=n_trials, initial=done, desc="study", unit="trial", file=sys.stderr, disable=not show_bar)

    def update(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.user_attrs.get(workers.QUOTA):  # started past the quota and dropped: not a trial of the study
            return
        finished, front = workers.progress(study)[0], len(report.pareto_trials(study))
        bar.n = finished
        bar.set_postfix(front=front, last=trial.state.name.lower())
        line = f"{_trial_line(trial, study.metric_names)}; study {finished}/{n_trials}, front {front}"
        bar.write(line, file=sys.stderr)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SLURM preemption: stop like Ctrl-C
    try:
        workers.run(study, objective, n_trials, callbacks=[update], poll=objective.poll, helper=helper)
    except KeyboardInterrupt:
        bar.write("interrupted: the running trial is recorded as failed; writing outputs")
        return True
    finally:
        signal.signal(signal.SIGTERM, previous)
        bar.close()
    return False


def _trial_line(trial: optuna.trial.FrozenTrial, names: list[str]) -> str:
    """``trial 4 complete: map50_95 0.3995, gflops 0.5092, 41.3 s; 16:cbam(...)``; why, for a trial that did not
    complete or reused another's result."""
    attrs = trial.user_attrs
    values = trial.values or [attrs.get("metric"), attrs.get(COST_ATTR[names[1]])]
    parts = [f"{name} {v:{fmt}}" for name, fmt, v in zip(names, (".4f", ".4g"), values, strict=True) if v is not None]
    if trial.duration is not None:
        parts.append(f"{trial.duration.total_seconds():.1f} s")
    why = attrs.get(workers.REASON) or (f"same as trial {attrs['reused_from']}" if "reused_from" in attrs else "")
    head = f"trial {trial.number} {trial.state.name.lower()}" + (f" ({why})" if why else "")
    return f"{head}: {', '.join(parts)}; {attrs.get('describe', '?')}"


def _early_stop(node: DictConfig) -> tuple[float, int, float | None] | None:
    """``Evaluate``'s early-stopping settings from ``search.early_stop``, or None when it is off."""
    if not node.enabled:
        return None
    confidence = None if node.confidence is None else float(node.confidence)
    return float(node.margin), int(node.min_epoch), confidence


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _intensify(s: DictConfig) -> Intensify | None:
    """Adaptive repeats (``search.max_repeats``) at the report's significance level over the study's comparisons."""
    if s.max_repeats is None or s.max_repeats == s.repeats:
        return None
    return Intensify(int(s.repeats), int(s.max_repeats), report.ALPHA, max(int(s.n_trials) - 1, 1), int(s.baselines))


def _runner(task: str) -> Any:
    from runners import fit_classification, fit_detection

    if task not in ("detect", "classify"):
        raise UserError(f"model.task: unknown {task!r}; valid: detect, classify")
    return fit_detection if task == "detect" else fit_classification


def tracker_settings(cfg: DictConfig) -> dict[str, Any]:
    """The logger config without its ``name``: the Tracker's keyword arguments."""
    return {k: v for k, v in OmegaConf.to_container(cfg.logger, resolve=True).items() if k != "name"}


def result_settings(cfg: DictConfig, metric: str) -> dict[str, Any]:
    """What a trial's values depend on besides its blocks: model, data, training, baseline weights, metric and cost."""
    config = public_config(cfg)
    keys = ("objective", "imgsz", "block_lr_mult", "gate", "repeats", "max_repeats")
    search = {key: config["search"][key] for key in keys}
    if config["model"].get("weights") is None:  # the baseline is trained for the search
        search |= {key: config["search"][key] for key in ("baseline_epochs", "baseline_train")}
        if config["search"]["baselines"] != 1:  # absent in studies from before search.baselines, which had one
            search["baselines"] = config["search"]["baselines"]
    return {key: config[key] for key in ("model", "data", "trainer")} | {"search": search, "metric": metric}


def public_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config without secrets (the storage URL's password)."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config["search"]["storage"] = redact(config["search"].get("storage"))
    return config
