"""Optuna study wiring: storage from a URL or path, the sampler from the config, directions from the objective."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import optuna
import sqlalchemy.exc
from hydra.utils import instantiate
from optuna.storages import BaseStorage
from optuna.storages.journal import JournalFileBackend

from search import space
from search.errors import UserError
from search.heartbeat import HeartbeatJournalStorage, ReasonedRDBStorage
from search.workers import INTERNAL

T = TypeVar("T")
SETTINGS = f"{INTERNAL}settings"  # study attribute: the settings its trials' values were measured with


def make_storage(url: str | None, run_dir: Path, heartbeat: int = 30) -> BaseStorage:
    """An Optuna storage whose running trials send heartbeats, so a killed worker's trial is failed, not lost.

    Args:
        url: None for a journal file in ``run_dir``; an SQLAlchemy URL (``sqlite:///x.db``,
            ``postgresql+psycopg2://...``); or a path to a journal file (shared filesystems, SLURM workers).
        run_dir: the run directory.
        heartbeat: seconds between heartbeats; a trial silent for four of them is failed by the next worker to look.
    """
    if not url:
        url = str(run_dir / "study.journal")
    if "://" in url:

        def rdb() -> ReasonedRDBStorage:
            kwargs = {} if url.startswith("sqlite") else {"pool_pre_ping": True}
            grace = 4 * heartbeat
            return ReasonedRDBStorage(url, heartbeat_interval=heartbeat, grace_period=grace, engine_kwargs=kwargs)

        try:  # workers starting together on an empty database race on the schema: the losers retry
            return retry(rdb, sqlalchemy.exc.IntegrityError)
        except Exception as err:  # driver missing, server unreachable, bad URL
            raise UserError(f"search.storage: cannot open {redact(url)!r}: {type(err).__name__}") from err
    path = Path(url).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return HeartbeatJournalStorage(JournalFileBackend(str(path)), heartbeat, 4 * heartbeat)


def retry(make: Callable[[], T], errors: type[Exception] | tuple[type[Exception], ...], attempts: int = 5) -> T:
    """``make()``, tried again after a short wait when it raises one of ``errors`` (creation races of workers)."""
    for attempt in range(attempts - 1):
        try:
            return make()
        except errors:
            time.sleep(0.5 * (attempt + 1))
    return make()


def redact(url: str | None) -> str | None:
    """``url`` (or ``key=url``) with its password replaced by ``***``."""
    if not url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    if "@" not in rest:
        return url
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def make_sampler(
    spec: Any, sites: Sequence[str], blocks: Sequence[str], max_blocks: int, **kwargs: Any
) -> optuna.samplers.BaseSampler:
    """The sampler of a ``search.sampler`` config; a grid sampler gets the space's grid (``search.space.grid``).
    ``kwargs`` go to the sampler too (e.g. a replay's ``seed``)."""
    if spec._target_.endswith("GridSampler"):
        kwargs["search_space"] = space.grid(list(sites), list(blocks), max_blocks)
    return instantiate(spec, **kwargs)


def create(storage: BaseStorage, name: str, sampler: optuna.samplers.BaseSampler, resume: bool) -> optuna.Study:
    """Create the study; with ``resume``, create it or continue the existing one (how workers join a shared study).

    Several workers may start at once on a fresh database, where Optuna's schema and study creation race: a failed
    creation is retried, by then as a load.
    """
    if not resume and name in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
        raise UserError(
            f"search.study_name: study {name!r} already exists in this storage; "
            "use search.resume=true to continue it (or join it as another worker), or another search.study_name"
        )

    def attempt() -> optuna.Study:
        return optuna.create_study(
            storage=storage, study_name=name, sampler=sampler, directions=["maximize", "minimize"], load_if_exists=True
        )

    return retry(attempt, Exception)


def keep_settings(study: optuna.Study, settings: Mapping[str, Any]) -> bool:
    """Store ``settings`` (nested: what changes a trial's results) with ``study``, or check them against its own.

    Returns whether they were stored now (a new study, or one from before studies kept them). Raises ``UserError``
    naming each setting that differs: resuming would mix values measured under different settings in one front.
    """
    new = json.loads(json.dumps(_flat(settings), default=str))  # as the storage gives them back
    stored_now = SETTINGS not in study.user_attrs
    if stored_now:
        study.set_user_attr(SETTINGS, new)
    stored = study.user_attrs[SETTINGS]  # read back: of workers creating a study at once, the last writer's
    differences = [
        f"{key}: stored {_show(stored, key)}, new {_show(new, key)}"
        for key in sorted(stored.keys() | new.keys())
        if (key in stored, stored.get(key)) != (key in new, new.get(key))
    ]
    if differences:
        raise UserError(
            f"search.resume: study {study.study_name!r} holds results measured with other settings: "
            f"{'; '.join(differences)} (resume it with its own settings, or start another search.study_name)"
        )
    return stored_now


def _flat(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one mapping of dotted keys, e.g. ``{"trainer.imgsz": 160}``."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _show(settings: Mapping[str, Any], key: str) -> str:
    return repr(settings[key]) if key in settings else "(unset)"
