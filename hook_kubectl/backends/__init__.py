"""Backends, loaded by name so a node needs only its own backend's libraries."""

import importlib

from hook_kubectl.deployment import BACKENDS
from hook_kubectl.errors import HookError

# What each backend needs beyond the standard library and PyYAML.
REQUIREMENTS = {"kubernetes": "kubernetes"}


def load(name: str):
    """The Backend class for `name` (one of deployment.BACKENDS)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}")
    try:
        module = importlib.import_module(f"hook_kubectl.backends.{name}")
    except ImportError as exc:
        needed = REQUIREMENTS.get(name)
        if needed and exc.name and exc.name.split(".")[0] == needed:
            raise HookError(
                f"the {name} backend needs the Python package {needed!r} on this node: "
                "pip install 'heat-config-kubectl[kubernetes]'") from None
        raise
    return module.BACKEND
