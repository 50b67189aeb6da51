"""Fixtures for the podman backend's tests: a deployer that runs the real
hook with real containers, and cleans up everything its deployments own."""

import json
import socket
import subprocess
import uuid

import pytest

from hook_kubectl.deployment import Identity, LABEL_PREFIX
from tests.conftest import make_deployment, run_hook

OWNER_LABEL = f"{LABEL_PREFIX}/deployment"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def podman(*args, env=None, check=False) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=env,
                          check=check, timeout=300)


def podman_json(*args, env=None):
    proc = podman(*args, env=env)
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    data = json.loads(proc.stdout)
    return data if isinstance(data, list) else [data]


class Deployer:
    """One Heat deployment (stable stack id + resource name) on this node."""

    def __init__(self, env, suffix, resource_name):
        self.env = env
        self.suffix = suffix
        self.stack_id = f"podmantest-{suffix}/{uuid.uuid4()}"
        self.resource_name = resource_name
        self.key = Identity(self.stack_id, resource_name).key
        self.ran = False

    def run(self, config="", action="CREATE", options=None, outputs=None, config_id=None):
        options = dict(options or {})
        options.setdefault("backend", "podman")
        declared = [{"name": name} for name in outputs or []]
        deployment = make_deployment(
            config, action=action, options=options, outputs=declared,
            stack_id=self.stack_id, resource_name=self.resource_name,
            config_id=config_id or str(uuid.uuid4()))
        self.ran = True
        result, stderr, code = run_hook(deployment, self.env)
        self.last_stderr = stderr
        assert (code == 0) == (result["deploy_status_code"] == 0), (result, stderr)
        return result

    def pods(self) -> list:
        """podman pod ps JSON of the pods this deployment owns."""
        return podman_json("pod", "ps", "--format", "json",
                           "--filter", f"label={OWNER_LABEL}={self.key}", env=self.env)

    def pod(self, name) -> dict:
        found = [p for p in self.pods() if p["Name"] == name]
        assert found, f"no pod {name} owned by {self.resource_name}: {self.pods()}"
        return found[0]

    def cleanup(self):
        if self.ran:
            self.run("", action="DELETE", options={"delete_volumes": True})
        # Whatever the hook left (a bug would): remove by this test's label only.
        ids = [p["Id"] for p in self.pods()]
        if ids:
            podman("pod", "rm", "--force", "--time", "0", *ids, env=self.env)
        volumes = podman_json("volume", "ls", "--format", "json",
                              "--filter", f"label={OWNER_LABEL}={self.key}", env=self.env)
        for volume in volumes:
            podman("volume", "rm", "--force", volume["Name"], env=self.env)


@pytest.fixture
def hook_env(podman_env, tmp_path):
    env = dict(podman_env)
    env["HEAT_KUBECTL_WORKDIR"] = str(tmp_path / "work")
    env.pop("HEAT_KUBECTL_BACKEND", None)
    return env


@pytest.fixture
def suffix():
    return uuid.uuid4().hex[:8]


@pytest.fixture
def deployer(hook_env, suffix):
    """make(resource_name) -> Deployer; every one is deleted at teardown."""
    made = []

    def make(resource_name="Web"):
        made.append(Deployer(hook_env, suffix, resource_name))
        return made[-1]

    yield make
    for one in made:
        one.cleanup()
