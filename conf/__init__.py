"""The search's Hydra configs (``pkg://search.conf``); importing the package registers their schemas."""

import search.schema  # noqa: F401  (the ConfigStore entries the defaults lists name)
