"""DELETE, SUSPEND and RESUME through hooks/kubectl."""

from hook_kubectl.backends import k8s_applyset as applyset
from tests.backends.kubernetes import manifests as m


def _parents(cluster, namespace):
    return cluster.list("v1", "Secret", namespace, label_selector=applyset.ID_LABEL)


def test_delete_removes_members_then_parent_and_twice_is_fine(cluster, hook, fake):
    bystander = m.config_map("bystander", labels={"app.kubernetes.io/managed-by": "heat-config-kubectl"})
    bystander["metadata"]["namespace"] = hook.namespace
    cluster.create(bystander)
    config = m.dump(m.deployment("web", cluster.images["ok"], replicas=2), m.service("web"),
                    m.config_map("settings"))
    assert hook.run(config).status == 0
    fake.requests.clear()

    run = hook.run("", action="DELETE")
    assert run.status == 0, run
    for kind, name in (("Deployment", "web"), ("Service", "web"), ("ConfigMap", "settings")):
        assert f"{kind}/{name} in {hook.namespace}: deleted" in run.stdout
    assert cluster.get("apps/v1", "Deployment", "web", hook.namespace) is None
    assert cluster.list("v1", "Pod", hook.namespace, label_selector="app=web") == []
    assert _parents(cluster, hook.namespace) == []
    assert cluster.get("v1", "ConfigMap", "bystander", hook.namespace) is not None
    # Foreground propagation: the Deployment's pods are gone before it is.
    deletes = fake.requests.matching(verb="delete", resource="deployments")
    assert deletes
    # The parent goes last, after every member is gone.
    order = [r.resource for r in fake.requests.matching(verb="delete")]
    assert order[-1] == "secrets"

    again = hook.run("", action="DELETE")
    assert again.status == 0, again
    assert "nothing to delete" in again.stdout


def test_delete_of_a_deployment_never_created_succeeds(cluster, hook):
    run = hook.run("", action="DELETE")
    assert run.status == 0, run


def test_foreground_propagation_requested(cluster, hook, fake):
    assert hook.run(m.dump(m.deployment("web", cluster.images["ok"]))).status == 0
    fake.requests.clear()
    assert hook.run("", action="DELETE").status == 0
    deletes = fake.requests.matching(verb="delete", resource="deployments")
    assert deletes and all("propagationPolicy=Foreground" in r.query for r in deletes)
    # The garbage collector removed the ReplicaSet and Pods before the hook returned.
    assert cluster.list("apps/v1", "ReplicaSet", hook.namespace) == []
    assert cluster.list("v1", "Pod", hook.namespace) == []


def test_suspend_resume_round_trip(cluster, hook):
    config = m.dump(m.deployment("web", cluster.images["ok"], replicas=3),
                    m.stateful_set("db", cluster.images["ok"], replicas=2),
                    m.cron_job("nightly", cluster.images["ok"]),
                    m.config_map("settings"))
    assert hook.run(config).status == 0

    suspended = hook.run(config, action="SUSPEND")
    assert suspended.status == 0, suspended
    assert f"Deployment/web in {hook.namespace}: stopped" in suspended.stdout
    assert cluster.get("apps/v1", "Deployment", "web", hook.namespace)["spec"]["replicas"] == 0
    assert cluster.get("apps/v1", "StatefulSet", "db", hook.namespace)["spec"]["replicas"] == 0
    assert cluster.get("batch/v1", "CronJob", "nightly", hook.namespace)["spec"]["suspend"] is True
    running = [p for p in cluster.list("v1", "Pod", hook.namespace)
               if not p["metadata"].get("deletionTimestamp")]
    assert running == []
    parent = _parents(cluster, hook.namespace)[0]
    record = parent["metadata"]["annotations"][applyset.SUSPENDED_ANNOTATION]
    assert '"replicas": 3' in record and '"replicas": 2' in record

    # A second SUSPEND keeps the original counts.
    assert hook.run(config, action="SUSPEND").status == 0
    resumed = hook.run(config, action="RESUME")
    assert resumed.status == 0, resumed
    assert f"Deployment/web in {hook.namespace}: started, ready (3/3 available)" in resumed.stdout
    assert cluster.get("apps/v1", "Deployment", "web", hook.namespace)["spec"]["replicas"] == 3
    assert cluster.get("apps/v1", "StatefulSet", "db", hook.namespace)["spec"]["replicas"] == 2
    assert cluster.get("batch/v1", "CronJob", "nightly", hook.namespace)["spec"]["suspend"] is False
    parent = _parents(cluster, hook.namespace)[0]
    assert applyset.SUSPENDED_ANNOTATION not in parent["metadata"]["annotations"]

    # Later updates take the replicas field back from the suspend manager
    # without being forced by the user.
    update = hook.run(m.dump(m.deployment("web", cluster.images["ok"], replicas=1),
                             m.stateful_set("db", cluster.images["ok"], replicas=2),
                             m.cron_job("nightly", cluster.images["ok"]), m.config_map("settings")),
                      action="UPDATE")
    assert update.status == 0, update
    assert cluster.get("apps/v1", "Deployment", "web", hook.namespace)["spec"]["replicas"] == 1


def test_suspend_of_nothing_succeeds(cluster, hook):
    config = m.dump(m.config_map("never-created"))
    assert hook.run(config, action="SUSPEND").status == 0
    assert hook.run(config, action="RESUME").status == 0


def _stateful_set_with_volume(cluster):
    db = m.stateful_set("db", cluster.images["ok"], replicas=2)
    db["spec"]["volumeClaimTemplates"] = [{
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    db["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "data", "mountPath": "/data"}]
    return m.dump(db)


def test_delete_keeps_stateful_set_volumes_by_default(cluster, hook):
    assert hook.run(_stateful_set_with_volume(cluster)).status == 0
    claims = [c["metadata"]["name"] for c in cluster.list("v1", "PersistentVolumeClaim", hook.namespace)]
    assert sorted(claims) == ["data-db-0", "data-db-1"]
    run = hook.run("", action="DELETE")
    assert run.status == 0, run
    assert "kept 2 volume claim(s)" in run.stdout and "delete_volumes" in run.stdout
    assert len(cluster.list("v1", "PersistentVolumeClaim", hook.namespace)) == 2


def test_delete_volumes_removes_stateful_set_claims(cluster, hook):
    unrelated = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": {"name": "data-dbx-0", "namespace": hook.namespace},
                 "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    cluster.create(unrelated)
    assert hook.run(_stateful_set_with_volume(cluster)).status == 0
    run = hook.run("", action="DELETE", delete_volumes=True)
    assert run.status == 0, run
    assert f"PersistentVolumeClaim/data-db-0 in {hook.namespace}: deleted" in run.stdout
    names = [c["metadata"]["name"] for c in cluster.list("v1", "PersistentVolumeClaim", hook.namespace)]
    assert names == ["data-dbx-0"]


def test_suspend_and_resume_a_running_job(cluster, hook):
    config = m.dump(m.job("batch", cluster.images["slow-start"], command=["sh", "-c", "sleep 5"]))
    assert hook.run(config, wait=False).status == 0
    suspended = hook.run(config, action="SUSPEND")
    assert suspended.status == 0, suspended
    assert f"Job/batch in {hook.namespace}: stopped" in suspended.stdout
    live = cluster.get("batch/v1", "Job", "batch", hook.namespace)
    assert live["spec"]["suspend"] is True
    assert not (live.get("status") or {}).get("active")
    resumed = hook.run(config, action="RESUME")
    assert resumed.status == 0, resumed
    assert f"Job/batch in {hook.namespace}: started, ready (complete)" in resumed.stdout
    assert cluster.get("batch/v1", "Job", "batch", hook.namespace)["spec"]["suspend"] is False


def test_daemon_set_ready_and_left_running_by_suspend(cluster, hook):
    config = m.dump(m.daemon_set("agent", cluster.images["ok"]))
    created = hook.run(config)
    assert created.status == 0, created
    assert f"DaemonSet/agent in {hook.namespace}: created, ready (" in created.stdout
    suspended = hook.run(config, action="SUSPEND")
    assert suspended.status == 0, suspended
    assert "a DaemonSet cannot be scaled to zero; left running" in suspended.stdout
    assert hook.run(config, action="RESUME").status == 0


def test_daemon_set_with_a_bad_image_fails_fast(cluster, hook):
    run = hook.run(m.dump(m.daemon_set("agent", cluster.images["pull-error"])), timeout=300)
    assert run.status != 0
    assert run.elapsed < 10, run
    assert run.stderr.startswith(f"DaemonSet/agent in {hook.namespace}: pod agent-"), run
