"""What the libraries print during a search: off by default, back with ``logger.verbose=true``."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

from ultralytics.utils import LOGGER


@contextlib.contextmanager
def quiet(enabled: bool = True) -> Iterator[None]:
    """While ``enabled``: Lightning's and ultralytics' loggers at warnings (no device, tip, dataset scan, optimizer or
    ``Overriding model.yaml`` lines per fit), and torch's LeafSpec deprecation warning and Lightning's note on the
    logging interval, which every fit of a small dataset triggers, ignored."""
    if not enabled:
        yield
        return
    loggers = (logging.getLogger("lightning.pytorch"), LOGGER)
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning)
        warnings.filterwarnings("ignore", r"The number of training batches .* is smaller than the logging interval")
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
