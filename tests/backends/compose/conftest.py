"""Fixtures for the compose backend: podman's Docker-compatible API service.

docker-compose (Debian's 1.29) talks to `podman system service` on a socket
in a temp dir, DOCKER_HOST points the hook at it. Each test gets its own
HEAT_KUBECTL_WORKDIR, its own project (a unique stack id) and free ports,
and removes only the containers of its own projects.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from tests.conftest import make_deployment, run_hook
from tests.containers import IMAGE


class _Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=5)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def _ping(path: str) -> bool:
    conn = _Unix(path)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@pytest.fixture(scope="session")
def docker_api(podman_env, tmp_path_factory):
    """A running `podman system service`; yields the environment (with
    DOCKER_HOST) that docker-compose and the hook use. Stopped at the end."""
    if not shutil.which("docker-compose") and not shutil.which("docker"):
        pytest.skip("docker-compose not installed: run tools/install-deps")
    directory = tmp_path_factory.mktemp("docker-api")
    sock = str(directory / "podman.sock")
    log = open(directory / "service.log", "w")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        env=podman_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (os.path.exists(sock) and _ping(sock)):
            if service.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "podman system service did not start: "
                    + (directory / "service.log").read_text()[-2000:])
            time.sleep(0.1)
        env = dict(podman_env, DOCKER_HOST=f"unix://{sock}")
        env.pop("HEAT_KUBECTL_COMPOSE", None)
        yield env
    finally:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        log.close()


class Project:
    """One test's deployment identity, environment and helpers."""

    def __init__(self, env, workdir, resource_name="App"):
        self.env = dict(env, HEAT_KUBECTL_WORKDIR=workdir)
        self.workdir = workdir
        self.stack_id = f"compose-test/{uuid.uuid4()}"
        self.resource_name = resource_name
        self.image = IMAGE

    def deployment(self, config, action="CREATE", options=None, **kwargs):
        options = dict(options or {})
        options.setdefault("backend", "compose")
        options.setdefault("timeout", 90)
        return make_deployment(config, action=action, options=options,
                               stack_id=self.stack_id, resource_name=self.resource_name,
                               **kwargs)

    def run(self, config, action="CREATE", options=None, **kwargs):
        result, stderr, code = run_hook(self.deployment(config, action, options, **kwargs),
                                        self.env, timeout=300)
        return result, stderr, code

    def podman(self, *args):
        return subprocess.run(["podman", *args], env=self.env, capture_output=True,
                              text=True, check=False)

    @property
    def project(self):
        # Same derivation as the hook (Identity.slug): checked by the tests.
        from hook_kubectl.deployment import Identity
        return Identity(self.stack_id, self.resource_name).slug

    def containers(self, all_states=True):
        """name -> inspect data of the project's containers."""
        args = ["ps", "--format", "json", "--filter",
                f"label=com.docker.compose.project={self.project}"]
        if all_states:
            args.insert(1, "-a")
        listed = json.loads(self.podman(*args).stdout or "[]")
        return {c["Names"][0]: c for c in listed}

    def cleanup(self):
        """Remove what this test's project left (only its own)."""
        for name in self.containers():
            self.podman("rm", "-f", "-t", "0", name)
        nets = self.podman("network", "ls", "--format", "{{.Name}}", "--filter",
                           f"label=com.docker.compose.project={self.project}").stdout.split()
        for net in nets:
            self.podman("network", "rm", "-f", net)
        vols = self.podman("volume", "ls", "--format", "{{.Name}}", "--filter",
                           f"label=com.docker.compose.project={self.project}").stdout.split()
        for vol in vols:
            self.podman("volume", "rm", "-f", vol)


@pytest.fixture
def new_project(docker_api, tmp_path):
    """A factory of Projects; each is cleaned up after the test."""
    made = []

    def make(resource_name="App"):
        project = Project(docker_api, str(tmp_path / "workdir"), resource_name)
        made.append(project)
        return project

    yield make
    for project in made:
        project.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str = "/", timeout: float = 5.0) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()
