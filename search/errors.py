"""The one exception type for bad user input: the CLI prints its message as one line and exits with code 2."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input from the user: the message names the key, the value and what is valid."""
