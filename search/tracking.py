"""Experiment tracking: one W&B run per trial, grouped by study, and a summary run; or CSV logs; or nothing.

W&B runs offline unless ``logger.mode=online``: nothing is sent, ``wandb sync <run dir>/wandb/offline-run-*`` later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

from search.early_stop import REPEAT_CURVES
from search.report import guarded


class Tracker:
    """Loggers for each trial and the study's summary.

    Args:
        kind: ``wandb``, ``csv`` or ``none``.
        directory: where logs go (the run directory).
        study_name: the W&B group.
        config: the search's configuration, without secrets, attached to every run.
        verbose: let W&B print its own lines (the search's ``logger.verbose``).
        settings: the rest of the logger config (``mode``, ``project``, ``entity``).
    """

    def __init__(
        self,
        kind: str,
        directory: Path,
        study_name: str,
        config: dict[str, Any],
        verbose: bool = False,
        **settings: Any,
    ) -> None:
        self.kind = kind
        self.directory = Path(directory)
        self.study_name = study_name
        self.config = config
        self.verbose = verbose
        self.settings = settings
        self._run = None

    @property
    def enabled(self) -> bool:
        return self.kind in ("wandb", "csv") and self.settings.get("mode") != "disabled"

    def start(self, number: int, params: dict[str, Any]) -> list[Logger]:
        """Open the trial's run; returns the Lightning loggers the runner writes its curves to.

        A tracker that fails (W&B's service, a full disk) costs the trial its logs, never the trial: one warning line.
        """
        if self.kind == "csv":
            return [CSVLogger(self.directory / "csv", name=f"trial_{number:03d}", version="")]
        if not self.enabled:
            return []
        config = {**self.config, "params": params}
        if not guarded(f"W&B run of trial {number}", self._open, f"trial-{number:03d}", config):
            return []
        return [WandbLogger(experiment=self._run)]

    def _open(self, name: str, config: dict[str, Any]) -> None:
        self._run = self._init(name=name, job_type="trial", config=config)

    def finish(self, state: str, attrs: dict[str, Any]) -> None:
        """Close the trial's run with its state, objectives and failure reason in the run summary."""
        if self._run is None:
            return
        run, self._run = self._run, None
        summary = {k: v for k, v in attrs.items() if isinstance(v, int | float | str) and k != "arch"}
        guarded("W&B trial summary", run.summary.update, {"state": state, **summary})
        if len(attrs.get(REPEAT_CURVES) or []) > 1:  # the logged curves are repeat 0's: add every repeat's
            guarded("W&B repeat curves", self._log_repeats, run, attrs[REPEAT_CURVES])
        guarded("W&B trial run", run.finish, 0 if state == "COMPLETE" else 1)

    @staticmethod
    def _log_repeats(run: Any, curves: list[list[float]]) -> None:
        import wandb

        epochs = list(range(1, len(curves[0]) + 1))  # a finished trial's repeats all ran every epoch
        keys = [f"repeat {k}" for k in range(len(curves))]
        run.log({"repeat_curves": wandb.plot.line_series(xs=epochs, ys=curves, keys=keys, title="metric per repeat")})

    def summary(self, rows: list[dict[str, Any]], front: set[int], cost: str, metric: str, png: Path) -> None:
        """A summary run with the table of all trials, the Pareto scatter and the front's plots (those written).

        Whatever the trials' states; a failure here is one warning line, never the study's exit code.
        """
        if self.kind == "wandb" and self.enabled:
            guarded("W&B summary run", self._summary, rows, front, cost, metric, png)

    def _summary(self, rows: list[dict[str, Any]], front: set[int], cost: str, metric: str, png: Path) -> None:
        import wandb

        run = self._init(name="summary", job_type="summary", config=self.config)
        try:
            columns = sorted({k for r in rows for k in r}, key=lambda c: (c.startswith("site_"), c))
            table = wandb.Table(columns=[*columns, "pareto"], allow_mixed_types=True)
            for r in rows:
                table.add_data(*[r.get(c) for c in columns], r["trial"] in front)
            logged = {
                "trials": table,
                "pareto_scatter": wandb.plot.scatter(table, cost, "metric", title=f"{metric} vs {cost}"),
            }
            for name in ("pareto", "heatmap"):  # the plots written beside it, if they were
                image = Path(png).with_name(f"{name}.png")
                if image.is_file():
                    logged[name] = wandb.Image(str(image))
            page = Path(png).with_name("pareto.html")  # the interactive front, error bars and significance included
            if page.is_file():
                logged["pareto_front"] = wandb.Html(str(page), inject=False)
            run.log(logged)
        finally:
            run.finish()

    def _init(self, **kwargs: Any):
        import wandb

        return wandb.init(
            project=self.settings.get("project", "attnsearch"),
            entity=self.settings.get("entity"),
            group=self.study_name,
            mode=self.settings.get("mode", "offline"),
            dir=str(self.directory),
            reinit="create_new",
            settings=wandb.Settings(silent=not self.verbose, console="off"),
            **kwargs,
        )
