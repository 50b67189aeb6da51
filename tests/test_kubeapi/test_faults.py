"""Faults on demand, restarts and the request log."""

import json
import threading
import time

import pytest
import urllib3
from kubernetes import client as k8s, config, watch
from kubernetes.client.rest import ApiException


@pytest.fixture
def core(client):
    return k8s.CoreV1Api(client)


def test_latency_is_added_to_matching_requests_only(api, core):
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    fault = api.faults.add("latency", seconds=0.6, verb="get", resource="configmaps")
    start = time.time()
    core.read_namespaced_config_map("c", "default")
    assert time.time() - start >= 0.6
    start = time.time()
    core.list_namespaced_config_map("default")
    assert time.time() - start < 0.5
    assert fault.hits == 1
    fault.remove()
    start = time.time()
    core.read_namespaced_config_map("c", "default")
    assert time.time() - start < 0.5


def raw_get(client, path, api):
    """One GET without the client's retries: (status, headers, body)."""
    cfg = client.configuration
    resp = client.rest_client.pool_manager.request(
        "GET", cfg.host + path, headers={"Authorization": f"Bearer {api.admin_token}"}, retries=False)
    return resp.status, resp.headers, json.loads(resp.data)


def test_429_with_retry_after(api, core, client, kubectl):
    api.faults.add("error", code=429, retry_after=1, verb="list", resource="configmaps", times=1)
    status, headers, body = raw_get(client, "/api/v1/namespaces/default/configmaps", api)
    assert status == 429 and headers["Retry-After"] == "1"
    assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] == 1
    # the python client (urllib3) honours Retry-After and retries by itself
    api.requests.clear()
    api.faults.add("error", code=429, retry_after=1, verb="list", resource="configmaps", times=1)
    core.list_namespaced_config_map("default")
    assert [r.code for r in api.requests.matching(verb="list", resource="configmaps")] == [429, 200]
    # client-go (kubectl) waits Retry-After and retries by itself
    api.requests.clear()
    api.faults.add("error", code=429, retry_after=1, verb="list", resource="configmaps", times=2)
    start = time.time()
    kubectl.ok("get", "configmaps")
    assert time.time() - start >= 2
    assert [r.code for r in api.requests.matching(verb="list", resource="configmaps")] == [429, 429, 200]


def test_500_and_503(api, core, client, kubectl):
    api.faults.add("error", code=500, verb="create", resource="configmaps", times=1)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert err.value.status == 500 and json.loads(err.value.body)["reason"] == "InternalError"
    assert api.get("configmaps", "x", "default") is None      # the fault hit before anything was done
    core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    api.faults.add("error", code=503, retry_after=0, verb="get", resource="configmaps", name="x", times=1)
    status, _, body = raw_get(client, "/api/v1/namespaces/default/configmaps/x", api)
    assert status == 503 and body["reason"] == "ServiceUnavailable"
    api.faults.add("error", code=500, verb="get", resource="configmaps", times=1)
    out = kubectl("get", "configmap", "x")
    assert out.returncode == 1 and "Error from server (InternalError)" in out.stderr


def test_connection_dropped_mid_response(api, core):
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"k": "v" * 200}})
    api.faults.add("drop", verb="get", resource="configmaps", times=1)
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.read_namespaced_config_map("c", "default")
    assert [r.code for r in api.requests.matching(verb="get", resource="configmaps")] == [-1]
    assert core.read_namespaced_config_map("c", "default").data["k"].startswith("v")


def test_watch_cut_off(api, core):
    for i in range(3):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    api.faults.add("cut_watch", resource="configmaps", after_events=2, times=1)
    seen = []
    with pytest.raises(urllib3.exceptions.HTTPError):
        for ev in watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=5):
            seen.append(ev["object"].metadata.name)
    assert seen == ["c0", "c1"]
    # the next watch is whole again
    seen = [ev["object"].metadata.name for ev in
            watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=1)]
    assert seen == ["c0", "c1", "c2", "kube-root-ca.crt"]


def test_restart_keeping_state_drops_watches(api, core):
    core.create_namespaced_config_map("default", {"metadata": {"name": "kept"}})
    port = api.port
    outcome = {}

    def watcher():
        try:
            for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=20):
                pass
            outcome["ended"] = "cleanly"
        except Exception as exc:      # a dropped connection
            outcome["ended"] = type(exc).__name__
    thread = threading.Thread(target=watcher)
    thread.start()
    time.sleep(0.3)
    start = time.time()
    api.restart(keep_state=True)
    thread.join(10)
    assert not thread.is_alive() and time.time() - start < 5
    assert api.port == port
    assert core.read_namespaced_config_map("kept", "default").metadata.name == "kept"


def test_restart_losing_state(api, core, client):
    old_rv = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "lost"}})
    api.restart(keep_state=False)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("lost", "default")
    assert err.value.status == 404
    assert core.read_namespace("default").status.phase == "Active"   # built-ins are back
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "default",
                                      resource_version=old_rv, timeout_seconds=2):
            pass
    assert err.value.status == 410
    # the kubeconfig still works
    fresh = k8s.CoreV1Api(config.new_client_from_config(config_file=api.kubeconfig_path))
    assert fresh.list_namespace().items


def test_request_log_counts_per_verb_and_resource(api, core, kubectl):
    api.requests.clear()
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    core.read_namespaced_config_map("a", "default")
    core.read_namespaced_config_map("a", "default")
    core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    core.list_namespaced_config_map("default")
    core.delete_namespaced_config_map("a", "default")
    counts = api.requests.counts()
    assert counts[("create", "configmaps")] == 1
    assert counts[("get", "configmaps")] == 2
    assert counts[("patch", "configmaps")] == 1
    assert counts[("list", "configmaps")] == 1
    assert counts[("delete", "configmaps")] == 1
    assert api.requests.counts("verb")["get"] == 2
    record = api.requests.matching(verb="patch")[0]
    assert record.namespace == "default" and record.name == "a" and record.code == 200
    assert record.user == "kubernetes-admin" and record.duration >= 0
    api.requests.clear()
    kubectl.ok("get", "pods")
    assert api.requests.counts()[("list", "pods")] == 1
    assert all(r.resource is None for r in api.requests.matching(verb="get"))   # discovery


def test_bearer_scheme_is_case_insensitive(api, client):
    cfg = client.configuration
    for scheme in ("Bearer", "bearer", "BEARER"):
        resp = client.rest_client.pool_manager.request(
            "GET", cfg.host + "/api/v1/namespaces", headers={"Authorization": f"{scheme} {api.admin_token}"},
            retries=False)
        assert resp.status == 200, scheme
    resp = client.rest_client.pool_manager.request(
        "GET", cfg.host + "/api/v1/namespaces", headers={"Authorization": "Basic eDp5"}, retries=False)
    assert resp.status == 401 and json.loads(resp.data)["reason"] == "Unauthorized"
    refused = api.requests.matching(code=401)
    assert len(refused) == 1 and refused[0].user is None and refused[0].resource == "namespaces"
