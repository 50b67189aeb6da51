"""Controllers: each behaviour and failure mode, observed through the API."""

import json
import time

import pytest
from kubernetes import client as k8s, config
from kubernetes.client.rest import ApiException


def pod_spec(image="nginx:1.25", **extra):
    return dict({"containers": [{"name": "main", "image": image}]}, **extra)


def workload(kind, name, image="nginx:1.25", replicas=1, **spec):
    body = {"metadata": {"name": name},
            "spec": dict({"selector": {"matchLabels": {"app": name}},
                          "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec(image)}},
                         **spec)}
    if kind != "DaemonSet":
        body["spec"]["replicas"] = replicas
    return body


def condition(obj, ctype):
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == ctype:
            return cond
    return None


def pods_of(api, prefix, namespace="default"):
    return [p for p in api.list("pods", namespace) if p["metadata"]["name"].startswith(prefix)]


def container_state(pod):
    statuses = pod["status"].get("containerStatuses") or []
    return statuses[0] if statuses else {}


def waiting_reason(pod):
    return (container_state(pod).get("state") or {}).get("waiting", {}).get("reason")


@pytest.fixture
def apis(client):
    return {"core": k8s.CoreV1Api(client), "apps": k8s.AppsV1Api(client), "batch": k8s.BatchV1Api(client),
            "ext": k8s.ApiextensionsV1Api(client), "storage": k8s.StorageV1Api(client)}


def test_deployment_status_has_every_field_kstatus_reads(api, apis):
    apis["apps"].create_namespaced_deployment("default", workload("Deployment", "web", replicas=3))
    d = api.wait_for(lambda: (lambda o: o if condition(o, "Progressing") and
                              condition(o, "Progressing")["reason"] == "NewReplicaSetAvailable" else None)(
        api.get("deployments", "web", "default")), message="deployment complete")
    status = d["status"]
    assert status["observedGeneration"] == d["metadata"]["generation"] == 1
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"],
            status["availableReplicas"]) == (3, 3, 3, 3)
    assert condition(d, "Available")["status"] == "True"
    assert condition(d, "Available")["reason"] == "MinimumReplicasAvailable"
    rs = api.list("replicasets", "default")
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["name"] == "web"
    assert rs[0]["status"]["readyReplicas"] == 3
    pods = pods_of(api, "web-")
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Running" and condition(pod, "Ready")["status"] == "True"
        assert pod["spec"]["nodeName"] == "node-1" and pod["status"]["podIP"]
        assert pod["metadata"]["labels"]["pod-template-hash"] == rs[0]["metadata"]["labels"]["pod-template-hash"]
    # a spec change bumps generation; observedGeneration follows
    apis["apps"].patch_namespaced_deployment("web", "default", {"spec": {"replicas": 1}})
    d = api.wait_for(lambda: (lambda o: o if o["status"]["observedGeneration"] == 2 and
                              o["status"]["replicas"] == 1 else None)(api.get("deployments", "web", "default")),
                     message="scaled down")
    api.wait_for(lambda: len(pods_of(api, "web-")) == 1, message="surplus pods terminated")


def test_progress_deadline_exceeded(api, apis):
    apis["apps"].create_namespaced_deployment("default", workload(
        "Deployment", "stuck", image="example/app:pull-error", progressDeadlineSeconds=1))
    d = api.wait_for(lambda: (lambda o: o if (condition(o, "Progressing") or {}).get("status") == "False" else None)(
        api.get("deployments", "stuck", "default")), timeout=10, message="deadline")
    cond = condition(d, "Progressing")
    assert cond["reason"] == "ProgressDeadlineExceeded"
    assert cond["message"].endswith("has timed out progressing.")
    assert condition(d, "Available")["status"] == "False"


def test_image_pull_error_then_backoff_with_events(api, apis):
    api.delays.pull_backoff = 0.3
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "pull"},
                                                   "spec": pod_spec("registry.example/pull-error:1")})
    api.wait_for(lambda: waiting_reason(api.get("pods", "pull", "default")) == "ErrImagePull", message="ErrImagePull")
    api.wait_for(lambda: waiting_reason(api.get("pods", "pull", "default")) == "ImagePullBackOff",
                 message="ImagePullBackOff")
    pod = api.get("pods", "pull", "default")
    assert pod["status"]["phase"] == "Pending" and condition(pod, "Ready")["status"] == "False"
    reasons = {(e["type"], e["reason"]) for e in api.events("default", "pull")}
    assert {("Normal", "Scheduled"), ("Warning", "Failed"), ("Normal", "BackOff")} <= reasons
    failed = [e["message"] for e in api.events("default", "pull", "Failed")]
    assert any("Failed to pull image" in m for m in failed) and "Error: ImagePullBackOff" in failed


def test_crashloop_restart_count_rises(api, apis):
    api.delays.crash = 0.1
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "crash"},
                                                   "spec": pod_spec("example/crashloop")})
    api.wait_for(lambda: container_state(api.get("pods", "crash", "default")).get("restartCount", 0) >= 3,
                 message="restarts")
    pod = api.get("pods", "crash", "default")
    state = container_state(pod)
    assert pod["status"]["phase"] == "Running"
    assert waiting_reason(pod) == "CrashLoopBackOff" or "running" in state["state"]
    assert state["lastState"]["terminated"]["exitCode"] == 1
    backoff = api.events("default", "crash", "BackOff")
    assert backoff and backoff[0]["type"] == "Warning" and backoff[0]["count"] >= 1


def test_config_error_from_image_and_from_missing_configmap(api, apis):
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "cfg"},
                                                   "spec": pod_spec("example/config-error")})
    spec = pod_spec("nginx")
    spec["containers"][0]["env"] = [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a"}}}]
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "needs-cm"}, "spec": spec})
    for name in ("cfg", "needs-cm"):
        api.wait_for(lambda n=name: waiting_reason(api.get("pods", n, "default")) == "CreateContainerConfigError",
                     message=f"{name} config error")
    msg = container_state(api.get("pods", "needs-cm", "default"))["state"]["waiting"]["message"]
    assert msg == 'configmap "settings" not found'
    assert api.events("default", "needs-cm", "Failed")[0]["message"] == 'Error: configmap "settings" not found'
    # creating the ConfigMap lets the pod start, as on a real cluster
    apis["core"].create_namespaced_config_map("default", {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    api.wait_for(lambda: condition(api.get("pods", "needs-cm", "default"), "Ready")["status"] == "True",
                 message="pod starts once the ConfigMap exists")


def test_unschedulable_by_image_and_by_node_selector(api, apis):
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "nowhere"},
                                                   "spec": pod_spec("example/unschedulable")})
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "picky"},
                                                   "spec": pod_spec(nodeSelector={"disk": "ssd"})})
    for name in ("nowhere", "picky"):
        pod = api.wait_for(lambda n=name: (lambda p: p if condition(p, "PodScheduled") else None)(
            api.get("pods", n, "default")), message="scheduling decision")
        cond = condition(pod, "PodScheduled")
        assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
        assert "0/1 nodes are available" in cond["message"]
        assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
        assert api.events("default", name, "FailedScheduling")[0]["type"] == "Warning"


def test_slow_start_becomes_ready_after_delay(api, apis):
    api.delays.slow_start = 0.6
    start = time.time()
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "slow"},
                                                   "spec": pod_spec("example/slow-start")})
    time.sleep(0.3)
    assert condition(api.get("pods", "slow", "default"), "Ready")["status"] == "False"
    api.wait_for(lambda: condition(api.get("pods", "slow", "default"), "Ready")["status"] == "True",
                 message="slow pod Ready")
    assert time.time() - start >= 0.6


def test_never_ready_and_graceful_pod_deletion(api, apis):
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "nr"}, "spec": pod_spec("x/never-ready")})
    api.wait_for(lambda: api.get("pods", "nr", "default")["status"]["phase"] == "Running", message="running")
    assert condition(api.get("pods", "nr", "default"), "Ready")["status"] == "False"
    api.delays.pod_terminate = 0.3
    deleted = apis["core"].delete_namespaced_pod("nr", "default")
    assert deleted.metadata.deletion_timestamp and deleted.metadata.deletion_grace_period_seconds == 30
    assert api.get("pods", "nr", "default") is not None      # still terminating
    api.wait_for(lambda: api.get("pods", "nr", "default") is None, message="pod gone")
    assert api.events("default", "nr", "Killing")


def test_statefulset_ordered_pods_and_claims(api, apis):
    sts = workload("StatefulSet", "db", replicas=3, serviceName="db")
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    apis["apps"].create_namespaced_stateful_set("default", sts)
    s = api.wait_for(lambda: (lambda o: o if (o.get("status") or {}).get("readyReplicas") == 3 else None)(
        api.get("statefulsets", "db", "default")), message="3 ready")
    assert s["status"]["currentRevision"] == s["status"]["updateRevision"]
    assert s["status"]["observedGeneration"] == 1 and s["status"]["updatedReplicas"] == 3
    pods = sorted(pods_of(api, "db-"), key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in pods] == ["db-0", "db-1", "db-2"]
    # OrderedReady: each pod was created after the previous one was Ready
    created = [p["metadata"]["creationTimestamp"] for p in pods]
    assert created == sorted(created)
    claims = {c["metadata"]["name"]: c for c in api.list("persistentvolumeclaims", "default")}
    assert set(claims) == {"data-db-0", "data-db-1", "data-db-2"}
    assert all(c["status"]["phase"] == "Bound" for c in claims.values())
    # a template change rolls the pods to the new revision
    apis["apps"].patch_namespaced_stateful_set("db", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "image": "nginx:1.26"}]}}}})
    api.wait_for(lambda: (lambda o: o["status"].get("currentRevision") == o["status"]["updateRevision"]
                          and o["status"]["observedGeneration"] == 2 and o["status"].get("readyReplicas") == 3)(
        api.get("statefulsets", "db", "default")), timeout=20, message="rolling update")
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(api, "db-")} == {"nginx:1.26"}


def test_daemonset_runs_one_pod_per_node(three_nodes):
    api = three_nodes
    apps = k8s.AppsV1Api(config.new_client_from_config(config_file=api.kubeconfig_path))
    apps.create_namespaced_daemon_set("default", workload("DaemonSet", "agent"))
    ds = api.wait_for(lambda: (lambda o: o if (o.get("status") or {}).get("numberReady") == 3 else None)(
        api.get("daemonsets", "agent", "default")), message="3 ready")
    assert ds["status"]["desiredNumberScheduled"] == 3 and ds["status"]["updatedNumberScheduled"] == 3
    assert sorted(p["spec"]["nodeName"] for p in pods_of(api, "agent-")) == ["node-1", "node-2", "node-3"]
    assert not api.controllers.errors


def test_job_complete_failed_and_suspended(api, apis):
    api.delays.job_run = 0.1
    for name, image in (("ok", "busybox"), ("bad", "example/job-fail")):
        apis["batch"].create_namespaced_job("default", {"metadata": {"name": name}, "spec": {
            "backoffLimit": 1, "completions": 2, "parallelism": 1,
            "template": {"spec": dict(pod_spec(image), restartPolicy="Never")}}})
    ok = api.wait_for(lambda: (lambda o: o if condition(o, "Complete") else None)(api.get("jobs", "ok", "default")),
                      message="job complete")
    assert ok["status"]["succeeded"] == 2 and ok["status"]["completionTime"]
    assert condition(ok, "Complete")["status"] == "True"
    bad = api.wait_for(lambda: (lambda o: o if condition(o, "Failed") else None)(api.get("jobs", "bad", "default")),
                       message="job failed")
    assert condition(bad, "Failed")["reason"] == "BackoffLimitExceeded"
    assert bad["status"]["failed"] == 2
    assert api.events("default", "bad", "BackoffLimitExceeded")
    apis["batch"].create_namespaced_job("default", {"metadata": {"name": "held"}, "spec": {
        "suspend": True, "template": {"spec": dict(pod_spec("busybox"), restartPolicy="Never")}}})
    held = api.wait_for(lambda: (lambda o: o if condition(o, "Suspended") else None)(api.get("jobs", "held", "default")),
                        message="suspended")
    assert condition(held, "Suspended")["status"] == "True" and not pods_of(api, "held-")


def test_cronjob_fires_and_suspend_is_honoured(api, apis):
    api.cronjob_interval = 0.3
    template = {"spec": {"template": {"spec": dict(pod_spec("busybox"), restartPolicy="OnFailure")}}}
    apis["batch"].create_namespaced_cron_job("default", {"metadata": {"name": "tick"},
                                                         "spec": {"schedule": "* * * * *", "jobTemplate": template}})
    apis["batch"].create_namespaced_cron_job("default", {"metadata": {"name": "paused"}, "spec": {
        "schedule": "* * * * *", "suspend": True, "jobTemplate": template}})
    api.wait_for(lambda: len([j for j in api.list("jobs", "default") if j["metadata"]["name"].startswith("tick-")]) >= 2,
                 message="two jobs")
    cj = api.get("cronjobs", "tick", "default")
    assert cj["status"]["lastScheduleTime"]
    assert not [j for j in api.list("jobs", "default") if j["metadata"]["name"].startswith("paused-")]
    apis["batch"].patch_namespaced_cron_job("tick", "default", {"spec": {"suspend": True}})
    time.sleep(0.1)
    count = len([j for j in api.list("jobs", "default") if j["metadata"]["name"].startswith("tick-")])
    time.sleep(0.8)
    assert len([j for j in api.list("jobs", "default") if j["metadata"]["name"].startswith("tick-")]) == count


def test_service_cluster_ip_and_load_balancer(api, apis):
    api.delays.load_balancer = 0.3
    svc = apis["core"].create_namespaced_service("default", {"metadata": {"name": "front"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 80}]}})
    assert svc.spec.cluster_ip.startswith("10.96.") and svc.spec.ports[0].target_port == 80
    assert svc.spec.ports[0].node_port and not (svc.status.load_balancer.ingress or [])
    api.wait_for(lambda: (api.get("services", "front", "default")["status"]["loadBalancer"] or {}).get("ingress"),
                 message="LB ingress")
    plain = apis["core"].create_namespaced_service("default", {"metadata": {"name": "back"}, "spec": {
        "ports": [{"port": 5432}]}})
    assert plain.spec.type == "ClusterIP" and plain.spec.cluster_ip != svc.spec.cluster_ip


def test_pvc_bound_and_wait_for_first_consumer(api, apis):
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    apis["core"].create_namespaced_persistent_volume_claim("default", {"metadata": {"name": "now"}, "spec": claim})
    apis["core"].create_namespaced_persistent_volume_claim("default", {"metadata": {"name": "later"}, "spec": dict(
        claim, storageClassName="wait-for-consumer")})
    now = api.wait_for(lambda: (lambda c: c if c["status"].get("phase") == "Bound" else None)(
        api.get("persistentvolumeclaims", "now", "default")), message="Bound")
    assert now["spec"]["storageClassName"] == "standard" and now["spec"]["volumeName"]
    assert api.get("persistentvolumes", now["spec"]["volumeName"])["spec"]["claimRef"]["name"] == "now"
    time.sleep(0.3)
    assert api.get("persistentvolumeclaims", "later", "default")["status"]["phase"] == "Pending"
    assert api.events("default", "later", "WaitForFirstConsumer")
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "consumer"}, "spec": pod_spec(
        volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "later"}}])})
    api.wait_for(lambda: api.get("persistentvolumeclaims", "later", "default")["status"].get("phase") == "Bound",
                 message="bound after a consumer")
    api.wait_for(lambda: condition(api.get("pods", "consumer", "default"), "Ready")["status"] == "True",
                 message="consumer ready")


def test_crd_established_and_name_conflict(api, apis):
    def crd(name, plural, kind):
        return {"metadata": {"name": f"{plural}.example.com"}, "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": kind},
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    apis["ext"].create_custom_resource_definition(crd("a", "apples", "Apple"))
    good = api.wait_for(lambda: (lambda o: o if (condition(o, "Established") or {}).get("status") == "True" else None)(
        api.get("customresourcedefinitions", "apples.example.com")), message="Established")
    assert condition(good, "NamesAccepted")["status"] == "True"
    assert good["status"]["acceptedNames"]["kind"] == "Apple"
    # same Kind, other plural: the later CRD's names are not accepted
    apis["ext"].create_custom_resource_definition(crd("b", "pommes", "Apple"))
    bad = api.wait_for(lambda: (lambda o: o if condition(o, "NamesAccepted") else None)(
        api.get("customresourcedefinitions", "pommes.example.com")), message="NamesAccepted")
    assert condition(bad, "NamesAccepted")["status"] == "False"
    assert condition(bad, "NamesAccepted")["reason"] == "KindConflict"
    assert condition(bad, "Established")["status"] == "False"
    assert api.cluster.registry.lookup("example.com", "v1", "pommes") is None
    assert api.cluster.registry.lookup("example.com", "v1", "apples") is not None


def test_namespace_terminating_then_gone(api, apis):
    api.delays.namespace_finalize = 0.3
    apis["core"].create_namespace({"metadata": {"name": "scratch"}})
    apis["core"].create_namespaced_config_map("scratch", {"metadata": {"name": "c"}})
    apis["apps"].create_namespaced_deployment("scratch", workload("Deployment", "w"))
    api.wait_for(lambda: pods_of(api, "w-", "scratch"), message="pods")
    deleted = apis["core"].delete_namespace("scratch")
    assert deleted["status"]["phase"] == "Terminating" if isinstance(deleted, dict) else deleted.status.phase == "Terminating"
    ns = apis["core"].read_namespace("scratch")
    assert ns.status.phase == "Terminating" and ns.metadata.deletion_timestamp
    with pytest.raises(ApiException) as err:
        apis["core"].create_namespaced_config_map("scratch", {"metadata": {"name": "late"}})
    assert err.value.status == 403
    assert json.loads(err.value.body)["message"] == ('configmaps "late" is forbidden: unable to create new '
                                                     'content in namespace scratch because it is being terminated')
    api.wait_for(lambda: api.get("namespaces", "scratch") is None, message="namespace gone")
    assert not api.list("configmaps", "scratch") and not api.list("pods", "scratch")
    assert not api.list("deployments", "scratch")
    # new namespaces get a default ServiceAccount and the cluster CA
    apis["core"].create_namespace({"metadata": {"name": "fresh"}})
    api.wait_for(lambda: api.get("serviceaccounts", "default", "fresh"), message="default SA")
    ca = api.wait_for(lambda: api.get("configmaps", "kube-root-ca.crt", "fresh"), message="CA ConfigMap")
    assert ca["data"]["ca.crt"] == api.ca_pem() and "BEGIN CERTIFICATE" in api.ca_pem()


def test_invalid_image_name_and_logs_of_echoing_commands(api, apis):
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "bad"},
                                                   "spec": pod_spec("registry.invalid/app/Bad:1")})
    spec = pod_spec("busybox", restartPolicy="Never")
    spec["containers"][0]["command"] = ["sh", "-c", "echo cannot reach db; echo 'retrying later'; exit 1"]
    apis["core"].create_namespaced_pod("default", {"metadata": {"name": "talk"}, "spec": spec})
    api.wait_for(lambda: waiting_reason(api.get("pods", "bad", "default")) == "InvalidImageName", message="invalid")
    message = container_state(api.get("pods", "bad", "default"))["state"]["waiting"]["message"]
    assert message.endswith("invalid reference format: repository name (app/Bad) must be lowercase")
    assert api.events("default", "bad", "InspectFailed")
    api.wait_for(lambda: api.get("pods", "talk", "default")["status"]["phase"] == "Succeeded", message="done")
    assert apis["core"].read_namespaced_pod_log("talk", "default") == "cannot reach db\nretrying later\n"


def test_rolling_update_respects_surge_and_unavailable(api, apis, kubectl):
    apis["apps"].create_namespaced_deployment("default", workload("Deployment", "roll", replicas=4))
    api.wait_for(lambda: (api.get("deployments", "roll", "default").get("status") or {}).get("availableReplicas") == 4,
                 message="4 available")
    # a broken new image: 25% surge (1 pod) may start, 25% unavailable (1 old pod) may go
    apis["apps"].patch_namespaced_deployment("roll", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "image": "example/app:pull-error"}]}}}})
    time.sleep(1.0)
    d = api.get("deployments", "roll", "default")
    sizes = sorted(r["spec"]["replicas"] for r in api.list("replicasets", "default"))
    assert sizes == [2, 3]                           # new RS 2 (surge 1 + the freed slot), old RS 3
    assert d["status"]["availableReplicas"] == 3 and d["status"]["updatedReplicas"] == 2
    assert condition(d, "Available")["status"] == "True"
    out = kubectl("rollout", "status", "deployment/roll", "--timeout=1s")
    assert out.returncode == 1
    assert 'Waiting for deployment "roll" rollout to finish: 2 out of 4 new replicas have been updated' in out.stdout
    # the fix rolls out completely, old ReplicaSets end at 0
    apis["apps"].patch_namespaced_deployment("roll", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "image": "nginx:1.27"}]}}}})
    kubectl.ok("rollout", "status", "deployment/roll", "--timeout=20s")
    sizes = sorted(r["spec"]["replicas"] for r in api.list("replicasets", "default"))
    assert sizes == [0, 0, 4]


def test_recreate_strategy_removes_old_pods_first(api, apis):
    api.delays.pod_terminate = 0.2
    apis["apps"].create_namespaced_deployment("default", workload(
        "Deployment", "rec", replicas=2, strategy={"type": "Recreate"}))
    api.wait_for(lambda: (api.get("deployments", "rec", "default").get("status") or {}).get("availableReplicas") == 2,
                 message="2 available")
    seen = []
    api.cluster.store.listeners.append(lambda t, k, o: seen.append((t, o["metadata"]["name"])) if k == ("", "pods") else None)
    apis["apps"].patch_namespaced_deployment("rec", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "image": "nginx:1.27"}]}}}})
    api.wait_for(lambda: (lambda o: o["status"]["observedGeneration"] == 2 and
                          o["status"].get("updatedReplicas") == 2 and o["status"].get("availableReplicas") == 2
                          and o["status"]["replicas"] == 2)(api.get("deployments", "rec", "default")),
                 message="recreated")
    first_new = next(i for i, (t, n) in enumerate(seen) if t == "ADDED")
    last_old_gone = max(i for i, (t, n) in enumerate(seen) if t == "DELETED")
    assert last_old_gone < first_new


def test_namespace_finalize_subresource_releases_a_stuck_namespace(api, apis):
    api.delays.namespace_finalize = 60        # the namespace controller would take a minute
    apis["core"].create_namespace({"metadata": {"name": "stuck"}})
    apis["core"].delete_namespace("stuck")
    ns = apis["core"].read_namespace("stuck")
    assert ns.status.phase == "Terminating" and ns.spec.finalizers == ["kubernetes"]
    ns.spec.finalizers = []
    apis["core"].replace_namespace_finalize("stuck", ns)
    with pytest.raises(ApiException) as err:
        apis["core"].read_namespace("stuck")
    assert err.value.status == 404


def test_min_ready_seconds_delays_availability(api, apis):
    apis["apps"].create_namespaced_deployment("default", workload("Deployment", "patient", replicas=1,
                                                                  minReadySeconds=1))
    d = api.wait_for(lambda: (lambda o: o if o["status"].get("readyReplicas") == 1 else None)(
        api.get("deployments", "patient", "default")), message="ready")
    ready_seen = time.time()
    assert not d["status"].get("availableReplicas") and condition(d, "Available")["status"] == "False"
    api.wait_for(lambda: api.get("deployments", "patient", "default")["status"].get("availableReplicas") == 1,
                 message="available")
    assert time.time() - ready_seen >= 0.8
    assert condition(api.get("deployments", "patient", "default"), "Available")["status"] == "True"


def test_job_turns_failed_a_batch_period_after_its_pod(api, apis):
    api.delays.job_sync = 0.4
    api.delays.job_run = 0.8          # no other pod update within the batch period
    seen = {}

    def record(event_type, key, obj):
        if key == ("", "pods") and obj["status"].get("phase") == "Failed":
            seen.setdefault("pod", time.time())
        if key == ("batch", "jobs") and condition(obj, "Failed"):
            seen.setdefault("job", time.time())
    api.cluster.store.listeners.append(record)
    apis["batch"].create_namespaced_job("default", {"metadata": {"name": "late"}, "spec": {
        "backoffLimit": 0, "template": {"spec": dict(pod_spec("x/job-fail"), restartPolicy="Never")}}})
    api.wait_for(lambda: "job" in seen, message="job failed")
    assert seen["job"] - seen["pod"] >= 0.35


def test_service_endpoints_follow_the_selected_pods(api, apis, kubectl):
    apis["apps"].create_namespaced_deployment("default", workload("Deployment", "api", replicas=2))
    apis["core"].create_namespaced_service("default", {"metadata": {"name": "api"}, "spec": {
        "selector": {"app": "api"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    ep = api.wait_for(lambda: (lambda e: e if e and len((e.get("subsets") or [{}])[0].get("addresses", [])) == 2
                               else None)(api.get("endpoints", "api", "default")), message="2 endpoints")
    pods = {p["status"]["podIP"]: p["metadata"]["name"] for p in pods_of(api, "api-")}
    assert {a["ip"]: a["targetRef"]["name"] for a in ep["subsets"][0]["addresses"]} == pods
    assert ep["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP", "name": "http"}]
    slices = api.list("endpointslices", "default")
    assert len(slices) == 1 and slices[0]["metadata"]["labels"]["kubernetes.io/service-name"] == "api"
    assert sorted(e["addresses"][0] for e in slices[0]["endpoints"]) == sorted(pods)
    assert all(e["conditions"]["ready"] for e in slices[0]["endpoints"])
    assert "Endpoints:" in kubectl.ok("describe", "service", "api").stdout
    apis["apps"].patch_namespaced_deployment_scale("api", "default", {"spec": {"replicas": 0}})
    api.wait_for(lambda: "subsets" not in api.get("endpoints", "api", "default"), message="no endpoints")
    apis["core"].delete_namespaced_service("api", "default")
    api.wait_for(lambda: api.get("endpoints", "api", "default") is None and not api.list("endpointslices", "default"),
                 message="endpoints removed with the service")


def test_pod_disruption_budget_status(api, apis, client):
    apis["apps"].create_namespaced_deployment("default", workload("Deployment", "db", replicas=3))
    k8s.PolicyV1Api(client).create_namespaced_pod_disruption_budget("default", {
        "metadata": {"name": "db"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}}})
    pdb = api.wait_for(lambda: (lambda o: o if (o.get("status") or {}).get("currentHealthy") == 3 else None)(
        api.get("poddisruptionbudgets", "db", "default")), message="3 healthy")
    status = pdb["status"]
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (3, 2, 1)
    assert status["observedGeneration"] == pdb["metadata"]["generation"]
    assert condition(pdb, "DisruptionAllowed")["status"] == "True"
