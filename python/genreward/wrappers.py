"""Gymnasium wrappers: :class:`RecordRun` writes a run folder the CLI and the app open."""

from .runs import RecordRun

__all__ = ["RecordRun"]
