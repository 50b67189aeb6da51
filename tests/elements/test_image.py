"""The agent chain inside an image built by tools/build-image.

Skipped unless HEAT_KUBECTL_IMAGE_TAR names the image's tarball (the build
is slow, so it is not part of the default run). Everything that runs is the
image's own: its os-collect-config with its /etc/os-collect-config.conf,
os-refresh-config, the heat-config element's 55-heat-config and
heat-config-notify, and the hook the heat-config-kubectl element installed,
in a chroot of the unpacked image. The test Kubernetes API server and a Heat
stand-in listen on 127.0.0.1 (the chroot shares the host's network).
"""

import json
import os
import shutil
import subprocess
import uuid

import pytest

from tests.agent import deployments as D
from tests.agent.heat_server import HeatServer
from tests.elements import rootfs
from tests.kubeapi import KubeAPI

IMAGE_TAR = os.environ.get("HEAT_KUBECTL_IMAGE_TAR")
KUBECONFIG = "/etc/heat-config-kubectl/kubeconfig"  # the element's default

pytestmark = pytest.mark.skipif(
    not IMAGE_TAR, reason="no image: run tools/build-image (sets HEAT_KUBECTL_IMAGE_TAR)")


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    base = tmp_path_factory.mktemp("image")
    root = str(base / "root")
    os.makedirs(root)
    subprocess.run(["tar", "-C", root, "--numeric-owner", "-xpf", IMAGE_TAR], check=True)
    yield root
    shutil.rmtree(base, ignore_errors=True)  # the unpacked image is over 1 GB


def test_image_has_the_chain_and_the_hook(image):
    for path in ("/usr/local/bin/os-collect-config", "/usr/local/bin/os-refresh-config",
                 "/usr/local/bin/os-apply-config", "/usr/local/bin/heat-config-notify",
                 "/usr/libexec/os-refresh-config/configure.d/20-os-apply-config",
                 "/usr/libexec/os-refresh-config/configure.d/50-heat-config-kubectl-cleanup",
                 "/usr/libexec/os-refresh-config/configure.d/55-heat-config",
                 "/var/lib/heat-config/hooks/kubectl", "/etc/heat-config-kubectl/env"):
        assert os.path.exists(rootfs.inside(image, path)), path
    # The build-only settings did not stay in the image.
    assert not os.path.exists(rootfs.inside(image, "/usr/local/share/build-host"))


def configmap(name, value):
    return ("apiVersion: v1\nkind: ConfigMap\n"
            f"metadata: {{name: {name}, namespace: default}}\n"
            f"data: {{value: '{value}'}}\n")


def test_chain_in_the_image_signals_heat(image):
    import kubernetes

    heat = HeatServer().start()
    suffix = uuid.uuid4().hex[:6]
    try:
        # The image's python (3.13) verifies TLS strictly: the test server's
        # certificates carry the key identifiers that needs.
        with KubeAPI() as api:
            os.makedirs(rootfs.inside(image, os.path.dirname(KUBECONFIG)), exist_ok=True)
            shutil.copy(api.kubeconfig_path, rootfs.inside(image, KUBECONFIG))
            names = [f"first-{suffix}", f"second-{suffix}"]
            metadata = [
                D.deployment(heat, transport, configmap(name, f"value of {name}"),
                             config_id=f"{name}-cfg", name=f"{index}_{name}",
                             resource_name=f"Res{index}",
                             options={"outputs": {
                                 "value": f"configmap/{name}.default:{{.data.value}}"}},
                             outputs=[{"name": "value", "type": "String"}])
                for index, (transport, name) in enumerate(
                    [("CFN_SIGNAL", names[0]), ("HEAT_SIGNAL", names[1])], start=1)]
            heat.set_metadata({"deployments": metadata})

            # The image's own os-collect-config and its own configuration
            # (command = os-refresh-config), one pass over Heat's metadata.
            proc = rootfs.in_chroot(image, [
                "os-collect-config", "--one-time",
                "--request-metadata-url", f"{heat.url}/metadata", "request"], timeout=600)
            logs = proc.stdout + proc.stderr
            assert proc.returncode == 0, logs[-8000:]

            signals = heat.signals()
            assert [r.path for r in signals] == [
                D.expected_path(heat, t, d)
                for t, d in zip(("CFN_SIGNAL", "HEAT_SIGNAL"), metadata)]
            client = kubernetes.client.CoreV1Api(
                kubernetes.config.new_client_from_config(api.kubeconfig_path))
            for request, name in zip(signals, names):
                signal = D.signal_data(request)
                assert signal["deploy_status_code"] == 0, signal
                assert signal["value"] == f"value of {name}"
                live = client.read_namespaced_config_map(name, "default")
                assert live.data == {"value": f"value of {name}"}
            assert D.PASSWORD not in logs
            assert all(D.PASSWORD.encode() not in r.body for r in signals)
            deployed = os.listdir(rootfs.inside(image, "/var/lib/heat-config/deployed"))
            assert sorted(deployed) == sorted(
                [f"{d['id']}{ext}" for d in metadata for ext in (".json", ".notify.json")])
            with open(rootfs.inside(image, "/var/run/heat-config/heat-config")) as conf:
                assert [d["id"] for d in json.load(conf)] == [d["id"] for d in metadata]
    finally:
        heat.stop()
