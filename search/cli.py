"""Command line of ``python -m search``: Hydra overrides as typed, user errors as one line and exit code 2.

Two things are handled before Hydra sees the arguments:
- ``attn=psa,cbam,soca`` means "these candidate blocks", not a sweep (Hydra would reject it without ``-m``): it becomes
  ``attn=[psa,cbam,soca]``; ``attn=all`` becomes every block in ``conf/attn/``.
- ``model=<path.yaml>`` and ``data=<path>`` name a user's own file: they become ``model=custom model.name=<path>`` and
  ``data=path data.path=<path>``.
- ``search.storage=<url with a password>`` moves the URL into the environment (``ATTNSEARCH_STORAGE``, inherited by
  local and SLURM workers) and becomes ``search.storage=${oc.env:ATTNSEARCH_STORAGE}``, so the password appears in no
  printed config, no Hydra log and no saved ``.hydra/`` file.
An unknown option of a config group is reported with the valid options.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from modules import UnknownBlockError
from runners.data.checks import DatasetError
from search.errors import UserError
from search.placement import PlacementError
from search.study import redact

USER_ERRORS = (UserError, UnknownBlockError, PlacementError, DatasetError)

SECRET_ENV = "ATTNSEARCH_STORAGE"
GROUPS = ("model", "attn", "placement", "data", "trainer", "search", "logger", "experiment")
PATH_GROUPS = {"model": "custom", "data": "path"}


def options(group: str) -> list[str]:
    """The options of a config group: the YAML files in ``conf/<group>/``."""
    folder = resources.files("search.conf") / group
    return sorted(Path(p.name).stem for p in folder.iterdir() if p.name.endswith(".yaml"))


def _split(arg: str) -> tuple[str, str] | None:
    """``group=value`` for an override of one of our config groups, else None."""
    if arg.startswith("-") or "=" not in arg:
        return None
    key, value = arg.split("=", 1)
    key = key.lstrip("+~")
    return (key, value) if key in GROUPS else None


def _looks_like_path(value: str) -> bool:
    return "/" in value or value.endswith((".yaml", ".yml", ".pt"))


def _attn(value: str) -> list[str]:
    names = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
    valid = options("attn")
    if names == ["all"]:
        return valid
    for name in names:
        if name not in valid:
            raise UserError(f"attn: unknown block {name!r}; valid: {', '.join(valid)} (or 'all')")
    if not names:
        raise UserError(f"attn: no block given; valid: {', '.join(valid)} (or 'all')")
    return names


def normalize(argv: Sequence[str]) -> list[str]:
    """Rewrite command-line overrides into the form Hydra composes (see the module docstring)."""
    out: list[str] = []
    for arg in argv:
        if arg.startswith("search.storage=") and redact(arg) != arg:
            os.environ[SECRET_ENV] = arg.split("=", 1)[1]
            out.append(f"search.storage=${{oc.env:{SECRET_ENV}}}")
            continue
        split = _split(arg)
        if split is None:
            out.append(arg)
            continue
        group, value = split
        if group == "attn":
            out.append(f"attn=[{','.join(_attn(value))}]")
        elif group in PATH_GROUPS and _looks_like_path(value):
            out += [f"{group}={PATH_GROUPS[group]}", f"{group}.{'path' if group == 'data' else 'name'}={value}"]
        elif group in ("model", "placement", "data", "trainer", "search", "logger", "experiment"):
            valid = options(group)
            for name in value.split(","):  # a comma list is a sweep under -m
                if name not in valid and name != "null":
                    hint = " or a path to a YAML" if group in PATH_GROUPS else ""
                    raise UserError(f"{group}: unknown option {name!r}; valid: {', '.join(valid)}{hint}")
            out.append(arg)
    return out


def check_overrides(overrides: Sequence[str], config_name: str = "config") -> DictConfig:
    """Compose the config once, so that a bad override is a ``UserError`` before Hydra runs; the composed config."""
    plain = [o for o in overrides if "=" in o and not o.startswith("-") and not o.lstrip("+~").startswith("hydra")]
    try:
        with initialize_config_module("search.conf", version_base="1.3"):
            return compose(config_name, overrides=plain)
    except (HydraException, OmegaConfBaseException) as err:
        raise UserError(describe(err)) from None


def describe(err: Exception) -> str:
    """One line for a composition error: the key, the value and what is valid, where OmegaConf says them."""
    cause = err
    while cause.__cause__ is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__
    key = getattr(cause, "full_key", None)
    msg = str(getattr(cause, "msg", None) or cause).strip().splitlines()[0]
    if not key:
        return str(err).strip().splitlines()[0]
    for pattern, text in _OMEGACONF_MESSAGES:
        match = re.fullmatch(pattern, msg)
        if match:
            return f"{key}: {text.format(*match.groups(), valid=_valid_keys(cause))}"
    return f"{key}: {msg}"


_OMEGACONF_MESSAGES = (
    (r"Value '(.*)' of type '\w+' could not be converted to Integer", "{0!r} is not an integer"),
    (r"Value '(.*)' of type '\w+' could not be converted to Float", "{0!r} is not a number"),
    (r"Value '(.*)' is not a valid bool \(type \w+\)", "{0!r} is not a boolean; valid: true, false"),
    (r"Value '(.*)' of type '\w+' could not be converted to String", "{0!r} is not a string"),
    (r"field '.*' is not Optional", "must not be null"),
    (r"Key '(.*)' not in '\w+'", "no such setting; valid: {valid}"),
    (r"Key '(.*)' is not in struct", "no such setting; valid: {valid}"),
    (r"Missing mandatory value: .*", "missing; set it on the command line"),
)


def _valid_keys(err: Exception) -> str:
    """The keys of the config node an unknown-key error happened in."""
    node = getattr(err, "parent_node", None) or getattr(err, "object_type", None)
    if isinstance(node, DictConfig):
        return ", ".join(str(k) for k in node if not str(k).startswith("_") and k != "hydra")
    if dataclasses.is_dataclass(node):
        return ", ".join(f.name for f in dataclasses.fields(node) if not f.name.startswith("_"))
    return "see --cfg job"


def run(
    main: Callable[[], object],
    argv: Sequence[str] | None = None,
    config_name: str = "config",
    validate: Callable[[DictConfig], None] | None = None,
) -> None:
    """Run a ``@hydra.main`` function on normalised arguments; a user error is one line on stderr and exit code 2.

    The configuration is composed and checked (``validate``) before Hydra creates a run directory, so bad input
    leaves nothing behind. A multirun checks each job's configuration when the job starts.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        args = normalize(args)
        if not {"-m", "--multirun", "--help", "-h", "--hydra-help"} & set(args):
            cfg = check_overrides(args, config_name)
            if validate is not None and not {"--cfg", "-c", "--info", "-i", "--resolve"} & set(args):
                try:
                    validate(cfg)
                except OmegaConfBaseException as err:  # a mandatory value left out (data=path without data.path)
                    raise UserError(describe(err)) from None
    except USER_ERRORS as err:
        exit_user_error(err)
    sys.argv[1:] = args
    main()


def exit_user_error(err: Exception) -> None:
    """Print ``err`` as one line on stderr and exit with code 2."""
    print(f"error: {err}", file=sys.stderr)
    sys.exit(2)
