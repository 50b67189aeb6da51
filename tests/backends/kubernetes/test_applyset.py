"""ApplySet (KEP-3659) marks, checked against the KEP's own definition."""

import base64
import hashlib

from hook_kubectl.backends import k8s_applyset as applyset
from hook_kubectl.deployment import parse
from tests.conftest import make_deployment

import json


def _deployment(**kwargs):
    return parse(json.dumps(make_deployment("kind: ConfigMap", **kwargs)), environ={})


def test_id_is_kep_hash_of_gknn():
    # KEP-3659: applyset-<base64url_nopad(sha256("<name>.<namespace>.<kind>.<group>"))>-v1
    digest = hashlib.sha256(b"p.ns.Secret.").digest()
    expected = "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"
    assert applyset.applyset_id("p", "ns") == expected
    assert applyset.applyset_id("p", "ns", "ConfigMap", "") != expected
    # label values: at most 63 characters, alphanumeric at both ends
    assert len(expected) <= 63 and expected[0].isalnum() and expected[-1].isalnum()


def test_parent_body_and_round_trip():
    dep = _deployment()
    parent = applyset.Parent.for_deployment(dep, "demo")
    assert parent.name.startswith("heat-kubectl-") and len(parent.name) <= 63
    body = parent.body(dep, {("apps", "Deployment"), ("", "Service"), ("", "Namespace")},
                       {"demo", "other"}, {"apps/Deployment/demo/web": {"replicas": 3}})
    meta = body["metadata"]
    assert meta["labels"][applyset.ID_LABEL] == parent.id
    assert meta["annotations"][applyset.GROUP_KINDS_ANNOTATION] == "Deployment.apps,Namespace,Service"
    assert meta["annotations"][applyset.NAMESPACES_ANNOTATION] == "other"
    assert meta["annotations"][applyset.TOOLING_ANNOTATION] == "heat-config-kubectl/v1"
    parent.live = body
    assert parent.group_kinds() == {("apps", "Deployment"), ("", "Service"), ("", "Namespace")}
    assert parent.namespaces() == {"demo", "other"}
    assert parent.suspended() == {"apps/Deployment/demo/web": {"replicas": 3}}


def test_identity_not_config_id_decides_the_parent():
    first = _deployment(config_id="cfg-1")
    second = _deployment(config_id="cfg-2")
    other = _deployment(resource_name="Other")
    assert applyset.Parent.for_deployment(first, "d").id == applyset.Parent.for_deployment(second, "d").id
    assert applyset.Parent.for_deployment(first, "d").id != applyset.Parent.for_deployment(other, "d").id


def test_owner_conflicts():
    dep = _deployment()
    parent = applyset.Parent.for_deployment(dep, "d")
    mine = applyset.mark_member({"metadata": {"name": "x"}}, dep, parent)
    assert applyset.owner_conflict(mine, parent, False) is None
    theirs_dep = _deployment(resource_name="Other")
    theirs = applyset.mark_member({"metadata": {"name": "x"}}, theirs_dep,
                                  applyset.Parent.for_deployment(theirs_dep, "d"))
    assert "another deployment (Other in stack teststack" in applyset.owner_conflict(theirs, parent, True)
    helm = {"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}}}
    assert "managed by Helm" in applyset.owner_conflict(helm, parent, True)
    bare = {"metadata": {"name": "x"}}
    assert "force_conflicts" in applyset.owner_conflict(bare, parent, False)
    assert applyset.owner_conflict(bare, parent, True) is None


def test_own_object_from_a_former_parent_is_not_a_conflict():
    dep = _deployment()
    old_parent = applyset.Parent.for_deployment(dep, "old-namespace")
    new_parent = applyset.Parent.for_deployment(dep, "new-namespace")
    live = applyset.mark_member({"metadata": {"name": "x"}}, dep, old_parent)
    assert applyset.owner_conflict(live, new_parent, False, dep.identity.key) is None
    other = _deployment(resource_name="Other")
    assert applyset.owner_conflict(live, new_parent, False, other.identity.key)
