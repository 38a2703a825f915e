"""One file per attention block; each registers itself with ``modules.register``."""
