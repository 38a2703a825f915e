"""``python -m search attn=psa,cbam,soca placement=neck``: the search as a Hydra app."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from search.cli import USER_ERRORS, exit_user_error, run
from search.validate import check_search


@hydra.main(version_base="1.3", config_path="pkg://search.conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from search.app import run_search

    try:
        run_search(cfg)
    except USER_ERRORS as err:
        exit_user_error(err)


if __name__ == "__main__":
    run(main, validate=check_search)
