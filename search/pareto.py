"""``python -m search.pareto search.storage=<url> search.study_name=<name>``: the outputs of a study, at any time.

Reads the study from its storage (while workers may still be running) and writes trials.csv, pareto.csv/.png/.html
and best/ into this command's run directory, plus the W&B summary run when ``logger=wandb``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import optuna
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from search import report
from search.cli import USER_ERRORS, exit_user_error, run
from search.errors import UserError
from search.evaluate import COST_ATTR
from search.study import make_storage, redact
from search.validate import check_pareto


def write_front(cfg: DictConfig, out_dir: Path) -> list[Path]:
    """Write the outputs of the study named in ``cfg.search`` to ``out_dir``; returns the files written."""
    from search.app import public_config, tracker_settings
    from search.tracking import Tracker

    if not cfg.search.storage:
        raise UserError("search.storage: name the study's storage (a journal file path or a database URL)")
    storage = make_storage(cfg.search.storage, out_dir)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if cfg.search.study_name not in names:
        raise UserError(
            f"search.study_name: no study {cfg.search.study_name!r} in {redact(cfg.search.storage)}; "
            f"studies there: {', '.join(names) or 'none'}"
        )
    study = optuna.load_study(study_name=cfg.search.study_name, storage=storage)
    metric, cost = study.metric_names or ["metric", cfg.search.objective]
    files, summary = report.write_all(study, out_dir, COST_ATTR.get(cost, cost), metric)
    tracker = Tracker(cfg.logger.name, out_dir, cfg.search.study_name, public_config(cfg), **tracker_settings(cfg))
    rows, front = report.trial_rows(study), {t.number for t in report.pareto_trials(study)}
    tracker.summary(rows, front, COST_ATTR.get(cost, cost), metric, out_dir / "pareto.png")
    print(f"{cfg.search.study_name}: {len(rows)} trials\n{summary}\n\nWritten to {out_dir}:")
    for path in files:
        print(f"  {path}")
    return files


@hydra.main(version_base="1.3", config_path="pkg://search.conf", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        write_front(cfg, Path(HydraConfig.get().runtime.output_dir))
    except USER_ERRORS as err:
        exit_user_error(err)


if __name__ == "__main__":
    run(main, validate=check_pareto)
