"""Optuna search over attention placements."""
