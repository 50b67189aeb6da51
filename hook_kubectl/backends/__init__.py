"""Backends, loaded by name so a node needs only its own backend's libraries."""

import importlib

from hook_kubectl.deployment import BACKENDS


def load(name: str):
    """The Backend class for `name` (one of deployment.BACKENDS)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}")
    module = importlib.import_module(f"hook_kubectl.backends.{name}")
    return module.BACKEND
