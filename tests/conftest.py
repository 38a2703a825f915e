"""Shared test setup: offline, quiet, deterministic."""

from __future__ import annotations

import os
import tempfile

# Generated datasets and cached baselines of this test session live in a fresh directory, not in the user's cache.
os.environ.setdefault("ATTNSEARCH_CACHE", tempfile.mkdtemp(prefix="attnsearch-test-cache-"))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HYDRA_FULL_ERROR", "1")

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _fresh_caches_under_mutation_testing() -> None:
    """Under mutmut (it sets ``MUTANT_UNDER_TEST``) each test computes the project's caches afresh.

    Else a result cached by an earlier test, or by the unmutated code in the process mutmut forks its runs from, would
    hide a mutant from the tests that read it. Plain test runs keep their caches.
    """
    if "MUTANT_UNDER_TEST" in os.environ:
        from search import cost
        from search.placement.sites import catalog

        catalog.cache_clear()
        cost._CACHE.clear()
