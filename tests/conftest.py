"""Fixtures every test directory may use."""

import json
import os
import subprocess
import sys

import pytest

from tests import containers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOOK = os.path.join(ROOT, "hooks", "kubectl")


@pytest.fixture(scope="session")
def podman_env(tmp_path_factory):
    """Environment for processes that run podman (the hook included), with
    the local busybox image built. Skips only where podman is not installed."""
    if not containers.podman_available():
        pytest.skip("podman/runc not installed: run tools/install-deps")
    env = containers.environ(str(tmp_path_factory.mktemp("containers")))
    containers.build_image(env)
    return env


@pytest.fixture(scope="session")
def busybox_image(podman_env):
    return containers.IMAGE


def run_hook(deployment, env=None, timeout=600):
    """Run hooks/kubectl as 55-heat-config does: JSON on stdin, one JSON out.
    Returns (result dict, process stderr, exit code)."""
    raw = deployment if isinstance(deployment, str) else json.dumps(deployment)
    proc = subprocess.run(
        [sys.executable, HOOK], input=raw, capture_output=True, text=True,
        env=env, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"hook must print exactly one JSON line, got: {proc.stdout!r}\nstderr: {proc.stderr}"
    return json.loads(lines[0]), proc.stderr, proc.returncode


def make_deployment(config, action="CREATE", options=None, inputs=None, outputs=None,
                    stack_id="teststack/00000000-0000-0000-0000-000000000001",
                    resource_name="TestDeployment", config_id="cfg-1"):
    """A deployment as the agent delivers it (see shared/examples)."""
    heat_inputs = [
        {"name": "deploy_server_id", "type": "String", "value": "server-1"},
        {"name": "deploy_action", "type": "String", "value": action},
        {"name": "deploy_stack_id", "type": "String", "value": stack_id},
        {"name": "deploy_resource_name", "type": "String", "value": resource_name},
        {"name": "deploy_signal_transport", "type": "String", "value": "NO_SIGNAL"},
    ]
    return {
        "id": config_id,
        "name": resource_name.lower(),
        "group": "kubectl",
        "config": config,
        "options": options or {},
        "inputs": list(inputs or []) + heat_inputs,
        "outputs": list(outputs or []),
    }
