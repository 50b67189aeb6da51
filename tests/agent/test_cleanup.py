"""The element's opt-in os-refresh-config cleanup, in the real chain: a
kubectl deployment that vanished from the metadata (Heat sent no DELETE) has
what it owns removed, and only when the node asked for it."""

import os
import subprocess
import uuid

import pytest

from tests.agent import deployments as D, sdists
from tests.agent.chain import Node
from tests.agent.pods import pod_config, podman_deployment, pods_of, serve
from tests.agent.test_chain import run_chain

CLEANUP = os.path.join(sdists.ROOT, "elements", "heat-config-kubectl", "os-refresh-config",
                       "configure.d", "50-heat-config-kubectl-cleanup")


@pytest.fixture
def make_node(tmp_path, heat, heat_agents, podman_backend):
    def make(cleanup):
        env = dict(podman_backend, HEAT_KUBECTL_ENV_FILE=str(tmp_path / "no-env-file"))
        env.pop("HEAT_KUBECTL_CLEANUP", None)
        if cleanup is not None:
            env["HEAT_KUBECTL_CLEANUP"] = cleanup
        return Node(tmp_path / f"node-{uuid.uuid4().hex[:6]}", heat, env=env,
                    extra_scripts=[CLEANUP])
    return make


def other_deployment(heat):
    """Something still in the metadata: a failing deployment of another resource."""
    return D.deployment(heat, "NO_SIGNAL", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
                        config_id=f"other-{uuid.uuid4().hex[:6]}", resource_name="Other",
                        options={"timeout": "soon"})


def test_cleanup_is_off_by_default(make_node, heat, identity):
    node = make_node(None)
    pod = f"chain-{uuid.uuid4().hex[:6]}"
    create = podman_deployment(heat, "CFN_SIGNAL", identity, f"c-{uuid.uuid4().hex[:6]}",
                               config=pod_config(pod, serve("v1")))
    run_chain(node, [create])
    assert pods_of(node.env, *identity) == [pod]

    run_chain(node, [other_deployment(heat)])
    assert pods_of(node.env, *identity) == [pod]
    assert os.path.exists(os.path.join(node.deployed, f"{create['id']}.json"))


def test_vanished_deployment_is_deleted_once_without_signalling_heat(make_node, heat, identity):
    node = make_node("1")
    pod = f"chain-{uuid.uuid4().hex[:6]}"
    create = podman_deployment(heat, "CFN_SIGNAL", identity, f"c-{uuid.uuid4().hex[:6]}",
                               config=pod_config(pod, serve("v1")))
    update = podman_deployment(heat, "CFN_SIGNAL", identity, f"u-{uuid.uuid4().hex[:6]}",
                               action="UPDATE", config=pod_config(pod, serve("v2")))
    run_chain(node, [create])
    # Still present under a new config id: an update is not a vanishing.
    proc = run_chain(node, [update])
    assert pods_of(node.env, *identity) == [pod]
    assert "gone from the metadata" not in proc.stderr
    signals = len(heat.signals())

    proc = run_chain(node, [other_deployment(heat)])
    assert pods_of(node.env, *identity) == []
    assert "AppDeployment of stack" in proc.stderr and "gone from the metadata" in proc.stderr
    assert len(heat.signals()) == signals  # Heat is not told: the resource is gone
    for config in (create, update):
        assert os.path.exists(os.path.join(node.deployed, f"{config['id']}.json.cleaned"))
        assert not os.path.exists(os.path.join(node.deployed, f"{config['id']}.json"))

    # Cleaned once: the next pass has nothing to do.
    proc = run_chain(node, [other_deployment(heat)])
    assert "gone from the metadata" not in proc.stderr


def test_unreadable_metadata_cleans_nothing(make_node, heat, identity):
    node = make_node("1")
    pod = f"chain-{uuid.uuid4().hex[:6]}"
    create = podman_deployment(heat, "NO_SIGNAL", identity, f"c-{uuid.uuid4().hex[:6]}",
                               config=pod_config(pod, serve("v1")))
    run_chain(node, [create])
    assert pods_of(node.env, *identity) == [pod]
    # The script alone, as os-refresh-config would run it, over a broken file.
    with open(node.heat_config_path, "w") as broken:
        broken.write("{not json")
    proc = subprocess.run([CLEANUP], env=node.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "not cleaning: cannot read" in proc.stderr
    assert pods_of(node.env, *identity) == [pod]
