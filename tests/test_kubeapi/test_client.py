"""The official python client (typed APIs and DynamicClient) against the server."""

import json
import threading

import pytest
from kubernetes import client as k8s, dynamic, watch
from kubernetes.client.rest import ApiException


def deployment(name="web", replicas=1, image="nginx:1.25", labels=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}}}


def status_of(exc):
    return json.loads(exc.body)


def test_dynamic_client_server_side_apply_and_conflicts(client):
    dyn = dynamic.DynamicClient(client)
    deps = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    created = deps.server_side_apply(body=deployment(replicas=2), namespace="default", field_manager="alpha")
    assert created.spec.replicas == 2
    entry = created.to_dict()["metadata"]["managedFields"][0]
    assert entry["manager"] == "alpha" and entry["operation"] == "Apply"
    assert "f:replicas" in entry["fieldsV1"]["f:spec"]
    # the same config again is a no-op: same resourceVersion
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}, "data": {"k": "v"}}
    first = cms.server_side_apply(body=cm, namespace="default", field_manager="alpha")
    again = cms.server_side_apply(body=cm, namespace="default", field_manager="alpha")
    assert again.metadata.resourceVersion == first.metadata.resourceVersion
    with pytest.raises(ApiException) as err:
        deps.server_side_apply(body=deployment(replicas=3), namespace="default", field_manager="beta")
    assert err.value.status == 409
    body = status_of(err.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "alpha": .spec.replicas'
    assert body["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "alpha"',
                                          "field": ".spec.replicas"}]
    forced = deps.server_side_apply(body=deployment(replicas=3), namespace="default",
                                    field_manager="beta", force_conflicts=True)
    assert forced.spec.replicas == 3
    # alpha drops a label it no longer applies: removed, because nobody else owns it
    smaller = deployment(replicas=2, labels={"app": "web"})
    with_label = deployment(replicas=2, labels={"app": "web", "extra": "yes"})
    deps.server_side_apply(body=with_label, namespace="default", field_manager="alpha", force_conflicts=True)
    assert deps.get(name="web", namespace="default").metadata.labels["extra"] == "yes"
    deps.server_side_apply(body=smaller, namespace="default", field_manager="alpha")
    assert "extra" not in deps.get(name="web", namespace="default").metadata.labels


def test_apply_requires_field_manager_and_matching_kind(client):
    dyn = dynamic.DynamicClient(client)
    deps = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    with pytest.raises(ApiException) as err:
        deps.patch(body=deployment(), name="web", namespace="default",
                   content_type="application/apply-patch+yaml")
    assert err.value.status == 422
    assert "fieldManager: Required value" in status_of(err.value)["message"]
    wrong = dict(deployment(), kind="StatefulSet")
    with pytest.raises(ApiException) as err:
        deps.patch(body=wrong, name="web", namespace="default", field_manager="x",
                   content_type="application/apply-patch+yaml")
    assert err.value.status == 400


def test_typed_list_with_label_and_field_selectors_and_pages(client):
    core = k8s.CoreV1Api(client)
    for i in range(7):
        core.create_namespaced_config_map("default", {
            "metadata": {"name": f"cm-{i}", "labels": {"parity": "even" if i % 2 == 0 else "odd",
                                                        "index": str(i)}}, "data": {"i": str(i)}})
    names = lambda items: [i.metadata.name for i in items]  # noqa: E731
    assert names(core.list_namespaced_config_map("default", label_selector="parity=odd").items) == \
        ["cm-1", "cm-3", "cm-5"]
    assert names(core.list_namespaced_config_map("default", label_selector="parity!=odd,index in (0,2,3)").items) == \
        ["cm-0", "cm-2"]
    # notin also matches objects without the label, like the namespace's kube-root-ca.crt
    assert names(core.list_namespaced_config_map("default", label_selector="index notin (0,1,2,3,4,5)").items) == \
        ["cm-6", "kube-root-ca.crt"]
    assert names(core.list_namespaced_config_map("default", field_selector="metadata.name=cm-4").items) == ["cm-4"]
    assert len(core.list_namespaced_config_map("default", field_selector="metadata.name!=cm-4",
                                               label_selector="parity").items) == 6
    page = core.list_namespaced_config_map("default", limit=3, label_selector="parity")
    seen = names(page.items)
    assert page.metadata._continue and page.metadata.remaining_item_count == 4
    while page.metadata._continue:
        page = core.list_namespaced_config_map("default", limit=3, label_selector="parity",
                                               _continue=page.metadata._continue)
        seen += names(page.items)
    assert seen == [f"cm-{i}" for i in range(7)]


def test_watch_streams_events_with_resource_version_and_bookmarks(client, api):
    core = k8s.CoreV1Api(client)
    start = core.list_namespaced_config_map("default").metadata.resource_version
    events = []

    def consume():
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, "default", resource_version=start,
                           allow_watch_bookmarks=True, timeout_seconds=5):
            events.append((ev["type"], ev["object"].metadata.name if ev["type"] != "BOOKMARK" else None))
            if ev["type"] == "BOOKMARK":
                w.stop()

    api.bookmark_interval = 0.3
    thread = threading.Thread(target=consume)
    thread.start()
    core.create_namespaced_config_map("default", {"metadata": {"name": "watched"}})
    core.patch_namespaced_config_map("watched", "default", {"data": {"a": "1"}})
    core.delete_namespaced_config_map("watched", "default")
    thread.join(10)
    assert events[:3] == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]
    assert ("BOOKMARK", None) in events


def test_watch_too_old_resource_version_gets_410(client, api):
    core = k8s.CoreV1Api(client)
    old = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    api.compact()
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "default",
                                      resource_version=old, timeout_seconds=2):
            pass
    assert err.value.status == 410
    assert "too old resource version" in err.value.reason or "too old" in str(err.value)


def test_delete_with_propagation_policies(client, api):
    apps = k8s.AppsV1Api(client)
    for name in ("fg", "bg", "orphan"):
        apps.create_namespaced_deployment("default", deployment(name, replicas=2))
    for name in ("fg", "bg", "orphan"):
        api.wait_for(lambda n=name: len([p for p in api.list("pods", "default")
                                         if p["metadata"]["name"].startswith(n + "-")]) == 2,
                     message=f"pods of {name}")
    fg = apps.delete_namespaced_deployment("fg", "default", propagation_policy="Foreground")
    # foreground: the owner stays (with a finalizer) until its dependents are gone; the
    # API answers with the object itself (the typed client hands it back as a dict)
    assert "foregroundDeletion" in fg["metadata"]["finalizers"] and fg["metadata"]["deletionTimestamp"]
    api.wait_for(lambda: api.get("deployments", "fg", "default") is None, message="foreground delete")
    assert not [p for p in api.list("pods", "default") if p["metadata"]["name"].startswith("fg-")]
    assert not [r for r in api.list("replicasets", "default") if r["metadata"]["name"].startswith("fg-")]

    bg = apps.delete_namespaced_deployment("bg", "default", propagation_policy="Background")
    bg = bg if isinstance(bg, dict) else bg.to_dict()
    assert bg["status"] == "Success" and bg["details"]["name"] == "bg" and bg["details"]["kind"] == "deployments"
    assert api.get("deployments", "bg", "default") is None
    api.wait_for(lambda: not [p for p in api.list("pods", "default") if p["metadata"]["name"].startswith("bg-")],
                 message="background garbage collection")

    apps.delete_namespaced_deployment("orphan", "default", propagation_policy="Orphan")
    api.wait_for(lambda: api.get("deployments", "orphan", "default") is None, message="orphaning delete")
    rs = [r for r in api.list("replicasets", "default") if r["metadata"]["name"].startswith("orphan-")]
    assert len(rs) == 1 and "ownerReferences" not in rs[0]["metadata"]
    assert len([p for p in api.list("pods", "default") if p["metadata"]["name"].startswith("orphan-")]) == 2


def test_finalizers_hold_deletion_until_removed(client, api):
    core = k8s.CoreV1Api(client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    deleted = core.delete_namespaced_config_map("held", "default")
    assert deleted["metadata"]["deletionTimestamp"]  # the object is returned, still there
    live = core.read_namespaced_config_map("held", "default")
    assert live.metadata.deletion_timestamp and live.metadata.finalizers == ["example.com/hold"]
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("held", "default")
    assert err.value.status == 404


def test_status_and_scale_subresources(client, api):
    apps = k8s.AppsV1Api(client)
    apps.create_namespaced_deployment("default", deployment(replicas=1))
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 1 and scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 3
    api.wait_for(lambda: (apps.read_namespaced_deployment_status("web", "default").status.ready_replicas or 0) == 3,
                 message="3 ready replicas")
    # writes to the main resource ignore status; writes to /status ignore spec
    d = apps.read_namespaced_deployment("web", "default")
    gen = d.metadata.generation
    apps.patch_namespaced_deployment("web", "default", {"status": {"replicas": 99}})
    assert apps.read_namespaced_deployment("web", "default").status.replicas == 3
    apps.patch_namespaced_deployment_status("web", "default", {"spec": {"replicas": 7}})
    after = apps.read_namespaced_deployment("web", "default")
    assert after.spec.replicas == 3 and after.metadata.generation == gen


def test_object_metadata_and_errors(client):
    core = k8s.CoreV1Api(client)
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "meta"}, "data": {"a": "1"}})
    assert cm.metadata.uid and cm.metadata.resource_version and cm.metadata.creation_timestamp
    stale = cm.metadata.resource_version
    core.patch_namespaced_config_map("meta", "default", {"data": {"a": "2"}})
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("meta", "default", {"metadata": {"name": "meta", "resourceVersion": stale},
                                                               "data": {"a": "3"}})
    assert err.value.status == 409
    assert status_of(err.value)["message"] == ('Operation cannot be fulfilled on configmaps "meta": the object '
                                               'has been modified; please apply your changes to the latest '
                                               'version and try again')
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("missing-ns", {"metadata": {"name": "x"}})
    assert err.value.status == 404 and status_of(err.value)["details"] == {"name": "missing-ns", "kind": "namespaces"}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", {"metadata": {"name": "UPPER"}})
    assert err.value.status == 422 and status_of(err.value)["reason"] == "Invalid"
    with pytest.raises(ApiException) as err:
        k8s.AppsV1Api(client).create_namespaced_deployment("default", {
            "metadata": {"name": "noimage"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}}}})
    causes = status_of(err.value)["details"]["causes"]
    assert causes == [{"reason": "FieldValueRequired", "message": "Required value",
                       "field": "spec.template.spec.containers[0].image"}]
    # generation moves with spec changes only
    apps = k8s.AppsV1Api(client)
    d = apps.create_namespaced_deployment("default", deployment("gen"))
    assert d.metadata.generation == 1
    apps.patch_namespaced_deployment("gen", "default", {"metadata": {"labels": {"x": "y"}}})
    assert apps.read_namespaced_deployment("gen", "default").metadata.generation == 1
    apps.patch_namespaced_deployment("gen", "default", {"spec": {"replicas": 2}})
    assert apps.read_namespaced_deployment("gen", "default").metadata.generation == 2
    # cluster-scoped objects have no namespace; namespaced paths for them do not exist
    ns = core.read_namespace("default")
    assert ns.metadata.namespace is None and ns.status.phase == "Active"


def test_patch_types_and_dry_run(client, api):
    apps = k8s.AppsV1Api(client)
    apps.create_namespaced_deployment("default", deployment())
    # strategic merge: containers merge by name
    apps.patch_namespaced_deployment("web", "default", {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "busybox"}]}}}})
    names = [c.name for c in apps.read_namespaced_deployment("web", "default").spec.template.spec.containers]
    assert names == ["main", "sidecar"]
    # JSON merge patch: lists are replaced
    deps = dynamic.DynamicClient(client).resources.get(api_version="apps/v1", kind="Deployment")
    deps.patch(body={"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x"}]}}}},
               name="web", namespace="default", content_type="application/merge-patch+json")
    names = [c.name for c in apps.read_namespaced_deployment("web", "default").spec.template.spec.containers]
    assert names == ["only"]
    # JSON patch
    apps.patch_namespaced_deployment("web", "default", [{"op": "replace", "path": "/spec/replicas", "value": 4}])
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 4
    # dry run changes nothing
    dry = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 9}}, dry_run="All")
    assert dry.spec.replicas == 9
    assert apps.read_namespaced_deployment("web", "default").spec.replicas == 4
    core = k8s.CoreV1Api(client)
    core.create_namespaced_config_map("default", {"metadata": {"name": "dry"}}, dry_run="All")
    assert api.get("configmaps", "dry", "default") is None
    before = core.create_namespaced_config_map("default", {"metadata": {"name": "wet"}}).metadata.resource_version
    assert core.patch_namespaced_config_map("wet", "default", {"data": {"a": "1"}}, dry_run="All").data == {"a": "1"}
    after = core.read_namespaced_config_map("wet", "default")
    assert after.data is None and after.metadata.resource_version == before
    core.delete_namespaced_config_map("wet", "default", dry_run="All")
    assert api.get("configmaps", "wet", "default") is not None


def test_crd_custom_objects_api(client, api):
    ext = k8s.ApiextensionsV1Api(client)
    ext.create_custom_resource_definition({
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}}}]}})
    api.wait_for(lambda: any(c["type"] == "Established" and c["status"] == "True" for c in
                             (api.get("customresourcedefinitions", "gadgets.example.com") or {})
                             .get("status", {}).get("conditions", [])), message="CRD Established")
    custom = k8s.CustomObjectsApi(client)
    custom.create_namespaced_custom_object("example.com", "v1", "default", "gadgets",
                                           {"apiVersion": "example.com/v1", "kind": "Gadget",
                                            "metadata": {"name": "g1"}, "spec": {"n": 1}})
    custom.patch_namespaced_custom_object_status("example.com", "v1", "default", "gadgets", "g1",
                                                 {"status": {"ready": True}})
    got = custom.get_namespaced_custom_object("example.com", "v1", "default", "gadgets", "g1")
    assert got["spec"] == {"n": 1} and got["status"] == {"ready": True}
    dyn = dynamic.DynamicClient(client)
    gadgets = dyn.resources.get(api_version="example.com/v1", kind="Gadget")
    assert [g.metadata.name for g in gadgets.get(namespace="default").items] == ["g1"]
    # deleting the CRD deletes its objects and its API
    ext.delete_custom_resource_definition("gadgets.example.com")
    api.wait_for(lambda: api.get("customresourcedefinitions", "gadgets.example.com") is None,
                 message="CRD deletion")
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object("example.com", "v1", "default", "gadgets")
    assert err.value.status == 404


def test_watch_with_selector_sees_objects_enter_and_leave(client, api):
    core = k8s.CoreV1Api(client)
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", {"metadata": {"name": "m", "labels": {"team": "a"}}})
    core.patch_namespaced_config_map("m", "default", {"metadata": {"labels": {"team": "b"}}})
    core.patch_namespaced_config_map("m", "default", {"metadata": {"labels": {"team": "a"}}})
    core.patch_namespaced_config_map("m", "default", {"data": {"x": "1"}})
    core.delete_namespaced_config_map("m", "default")
    seen = [(ev["type"], ev["object"].metadata.labels["team"]) for ev in watch.Watch().stream(
        core.list_namespaced_config_map, "default", label_selector="team=a",
        resource_version=start, timeout_seconds=1)]
    assert seen == [("ADDED", "a"), ("DELETED", "b"), ("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_secret_string_data_is_write_only(client):
    core = k8s.CoreV1Api(client)
    created = core.create_namespaced_secret("default", {"metadata": {"name": "s"},
                                                        "stringData": {"password": "pa55"}})
    assert created.data == {"password": "cGE1NQ=="} and created.string_data is None
    assert created.type == "Opaque"
    core.patch_namespaced_secret("s", "default", {"stringData": {"user": "me"}})
    assert core.read_namespaced_secret("s", "default").data == {"password": "cGE1NQ==", "user": "bWU="}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_secret("default", {"metadata": {"name": "bad"}, "data": {"k": "not base64!"}})
    assert err.value.status == 422


def test_two_appliers_of_disjoint_fields_share_an_object(client):
    """Regression: metadata holding only name/namespace must not be a field anyone owns
    (it made the second manager conflict on ".metadata")."""
    cms = dynamic.DynamicClient(client).resources.get(api_version="v1", kind="ConfigMap")
    cms.server_side_apply(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"},
                                "data": {"a": "1"}}, namespace="default", field_manager="A")
    both = cms.server_side_apply(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"},
                                       "data": {"b": "2"}}, namespace="default", field_manager="B")
    both = both.to_dict()
    assert both["data"] == {"a": "1", "b": "2"}
    owned = {m["manager"]: m["fieldsV1"] for m in both["metadata"]["managedFields"]}
    assert owned == {"A": {"f:data": {"f:a": {}}}, "B": {"f:data": {"f:b": {}}}}


def test_delete_answers_the_object_or_a_status_per_kind(client):
    """Regression: the typed client parses DELETE of a Service as a V1Service (it failed on
    a Status); ConfigMaps answer a Status."""
    core = k8s.CoreV1Api(client)
    core.create_namespaced_service("default", {"metadata": {"name": "gone"}, "spec": {"ports": [{"port": 80}]}})
    deleted = core.delete_namespaced_service("gone", "default")
    assert isinstance(deleted, k8s.V1Service) and deleted.metadata.name == "gone"
    core.create_namespaced_config_map("default", {"metadata": {"name": "gone"}})
    status = core.delete_namespaced_config_map("gone", "default")
    status = status if isinstance(status, dict) else status.to_dict()
    assert status["status"] == "Success" and status["details"]["kind"] == "configmaps"


def test_watch_list_sends_initial_events_then_a_bookmark(client, api):
    """The streaming list (sendInitialEvents) that newer client-go informers use."""
    core = k8s.CoreV1Api(client)
    for name in ("one", "two"):
        core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": {"mine": "yes"}}})
    resp = client.rest_client.pool_manager.request(
        "GET", client.configuration.host + "/api/v1/namespaces/default/configmaps?watch=true&labelSelector=mine"
        "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1",
        headers={"Authorization": f"Bearer {api.admin_token}"}, preload_content=False)
    events = [json.loads(line) for line in resp.data.decode().splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:2]] == [("ADDED", "one"), ("ADDED", "two")]
    assert events[2]["type"] == "BOOKMARK"
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


STALE_MESSAGE = ('Operation cannot be fulfilled on configmaps "stale": the object has been modified; '
                 "please apply your changes to the latest version and try again")


def test_patch_with_a_stale_resource_version_conflicts_for_every_patch_type(client):
    """A resourceVersion in any patch body is a precondition, as on the real apiserver."""
    core = k8s.CoreV1Api(client)
    cms = dynamic.DynamicClient(client).resources.get(api_version="v1", kind="ConfigMap")
    stale = core.create_namespaced_config_map("default", {"metadata": {"name": "stale"}}).metadata.resource_version
    current = core.patch_namespaced_config_map("stale", "default", {"data": {"a": "1"}}).metadata.resource_version
    assert current != stale
    # the applied key is one nobody else owns: a field conflict would be answered first
    applied = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "stale", "resourceVersion": stale}, "data": {"b": "2"}}
    attempts = {
        "strategic": lambda: core.patch_namespaced_config_map(
            "stale", "default", {"metadata": {"resourceVersion": stale}, "data": {"a": "2"}}),
        "merge": lambda: cms.patch(body={"metadata": {"resourceVersion": stale}, "data": {"a": "2"}},
                                   name="stale", namespace="default",
                                   content_type="application/merge-patch+json"),
        "json": lambda: core.patch_namespaced_config_map("stale", "default", [
            {"op": "replace", "path": "/metadata/resourceVersion", "value": stale},
            {"op": "replace", "path": "/data/a", "value": "2"}]),
        "apply": lambda: cms.server_side_apply(body=applied, namespace="default", field_manager="m"),
        "apply forced": lambda: cms.server_side_apply(body=applied, namespace="default", field_manager="m",
                                                      force_conflicts=True),
    }
    for kind, attempt in attempts.items():
        with pytest.raises(ApiException) as err:
            attempt()
        assert err.value.status == 409, kind
        body = status_of(err.value)
        assert (body["kind"], body["status"], body["reason"], body["code"]) == \
            ("Status", "Failure", "Conflict", 409), kind
        assert body["message"] == STALE_MESSAGE, kind
        assert body["details"] == {"name": "stale", "kind": "configmaps"}, kind
    after = core.read_namespaced_config_map("stale", "default")
    assert after.data == {"a": "1"} and after.metadata.resource_version == current
    # the current resourceVersion is no conflict
    applied["metadata"]["resourceVersion"] = current
    assert cms.server_side_apply(body=applied, namespace="default", field_manager="m").to_dict()["data"] == {"a": "1", "b": "2"}


def test_apply_with_managed_fields_is_a_bad_request(client):
    """An object read back from the server and applied as is carries managedFields: the
    apiserver refuses it (400, "metadata.managedFields must be nil"); null is no value."""
    cms = dynamic.DynamicClient(client).resources.get(api_version="v1", kind="ConfigMap")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "read-back"}, "data": {"k": "v"}}
    entries = cms.server_side_apply(body=cm, namespace="default", field_manager="m").to_dict()[
        "metadata"]["managedFields"]
    assert entries
    for sent in (entries, []):
        body = dict(cm, metadata={"name": "read-back", "managedFields": sent}, data={"k": "changed"})
        with pytest.raises(ApiException) as err:
            cms.server_side_apply(body=body, namespace="default", field_manager="m")
        assert err.value.status == 400
        status = status_of(err.value)
        assert (status["reason"], status["message"]) == ("BadRequest", "metadata.managedFields must be nil")
        # also when the object does not exist yet
        body["metadata"]["name"] = "fresh"
        with pytest.raises(ApiException) as err:
            cms.server_side_apply(body=body, namespace="default", field_manager="m")
        assert err.value.status == 400
    assert cms.get(name="read-back", namespace="default").to_dict()["data"] == {"k": "v"}
    nulled = dict(cm, metadata={"name": "read-back", "managedFields": None}, data={"k": "changed"})
    assert cms.server_side_apply(body=nulled, namespace="default", field_manager="m").to_dict()["data"] == {"k": "changed"}


def test_scale_patch_with_a_stale_resource_version_conflicts(client):
    apps = k8s.AppsV1Api(client)
    stale = apps.create_namespaced_deployment("default", deployment(replicas=1)).metadata.resource_version
    apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 2}})
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment_scale("web", "default", {"metadata": {"resourceVersion": stale},
                                                                  "spec": {"replicas": 5}})
    assert err.value.status == 409
    assert status_of(err.value)["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again")
    current = apps.read_namespaced_deployment_scale("web", "default")
    assert current.spec.replicas == 2
    current.spec.replicas = 4           # a read-modify-write with the current version passes
    assert apps.replace_namespaced_deployment_scale("web", "default", current).spec.replicas == 4
