"""Fixtures for the template tests: paths, and Heat's engine offline."""

import glob
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = os.path.join(ROOT, "templates")
EXAMPLES = sorted(glob.glob(os.path.join(TEMPLATES, "examples", "*.yaml")))
ENVIRONMENTS = {
    "cluster": os.path.join(TEMPLATES, "environments", "cluster.yaml"),
    "single-node": os.path.join(TEMPLATES, "environments", "single-node.yaml"),
}
BROKEN = sorted(glob.glob(os.path.join(TEMPLATES, "broken", "*.yaml")))

# Values for the parameters the examples require (server ids are checked by
# the nova.server constraint, which is stubbed: any id passes).
REQUIRED_PARAMS = {
    "server": "3f1c0d4e-0000-4000-8000-000000000001",
    "controller": "3f1c0d4e-0000-4000-8000-000000000001",
    "servers": {"node-0": "3f1c0d4e-0000-4000-8000-00000000000a",
                "node-1": "3f1c0d4e-0000-4000-8000-00000000000b"},
    "role_servers": {"compute-0": "3f1c0d4e-0000-4000-8000-00000000000a",
                     "compute-1": "3f1c0d4e-0000-4000-8000-00000000000b"},
    "manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
}


@pytest.fixture(scope="session")
def heat():
    """tests.templates.heat_engine, with Heat installed (tools/install-deps)."""
    pytest.importorskip("heat.engine.stack", reason="openstack-heat is not installed: run tools/install-deps")
    from tests.templates import heat_engine
    return heat_engine


def params_for(template_path: str, heat_engine) -> dict:
    """REQUIRED_PARAMS limited to what the template declares without default."""
    from heat.common import template_format

    heat_engine.setup()
    with open(template_path) as f:
        declared = template_format.parse(f.read()).get("parameters") or {}
    return {name: value for name, value in REQUIRED_PARAMS.items()
            if name in declared and "default" not in declared[name]}
