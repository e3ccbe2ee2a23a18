"""pytest's shared setup; the shared helpers live in :mod:`tests.helpers`."""

from __future__ import annotations

from .helpers import codes, leaf

__all__ = ["codes", "leaf"]  # older tests import them from here
