"""Datasets of the runners: the embedded digits and the checks of a user's data."""

from runners.data.checks import DatasetError
from runners.data.digits import prepare_digits

__all__ = ["DatasetError", "prepare_digits"]
