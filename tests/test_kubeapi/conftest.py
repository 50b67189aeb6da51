"""Fixtures for the test API server's own tests."""

import pytest

from tests.kubeapi import KubeAPI, fixture
from tests.kubeapi import kubectl as kubectl_tool


@pytest.fixture(scope="session")
def kubectl_path():
    try:
        return kubectl_tool.find_kubectl()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def api():
    with KubeAPI() as server:
        yield server
        # a request the server failed on (HTTP 500 from a bug) fails the test
        assert not server.server_errors, server.server_errors[0]
        assert not server.controllers.errors, server.controllers.errors[0][2]


class Kubectl:
    def __init__(self, path, api, tmp_path):
        self.path = path
        self.api = api
        self.kubeconfig = api.kubeconfig_path
        self.cache = str(tmp_path / "kube-cache")
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBECTL_EXTERNAL_DIFF": "diff -u -N"}

    def __call__(self, *args, input=None, timeout=60, kubeconfig=None):
        return kubectl_tool.run(self.path, kubeconfig or self.kubeconfig, *args, input=input,
                                timeout=timeout, cache_dir=self.cache, env=self.env)

    def ok(self, *args, **kw):
        proc = self(*args, **kw)
        assert proc.returncode == 0, f"kubectl {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc


@pytest.fixture
def kubectl(kubectl_path, api, tmp_path):
    return Kubectl(kubectl_path, api, tmp_path)


@pytest.fixture
def client(api):
    from kubernetes import config
    return config.new_client_from_config(config_file=api.kubeconfig_path)


three_nodes = fixture(nodes=3)
