"""Fixtures for the agent-chain tests: the fake Heat and one node per test."""

import importlib.util
import uuid

import pytest

from tests.agent import sdists
from tests.agent.chain import Node
from tests.agent.heat_server import HeatServer
from tests.agent.pods import remove_pods_of


@pytest.fixture(scope="session")
def heat_agents():
    return sdists.heat_agents()


@pytest.fixture
def heat():
    server = HeatServer().start()
    yield server
    server.stop()


@pytest.fixture
def node(tmp_path, heat, heat_agents):
    return Node(tmp_path / "node", heat)


@pytest.fixture
def podman_backend(podman_env):
    """podman_env, where the podman backend exists (skips, saying why, if not)."""
    if importlib.util.find_spec("hook_kubectl.backends.podman") is None:
        pytest.skip("hook_kubectl/backends/podman.py is not in this tree")
    return podman_env


@pytest.fixture
def identity(podman_env):
    """A unique (stack id, resource name); removes its pods afterwards."""
    stack_id = f"chain-{uuid.uuid4().hex[:8]}/{uuid.uuid4()}"
    resource_name = "AppDeployment"
    yield stack_id, resource_name
    remove_pods_of(podman_env, stack_id, resource_name)
