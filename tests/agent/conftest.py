"""Fixtures for the agent-chain tests: the fake Heat and one node per test."""

import pytest

from tests.agent import sdists
from tests.agent.chain import Node
from tests.agent.heat_server import HeatServer


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
