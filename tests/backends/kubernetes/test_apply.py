"""CREATE/UPDATE through hooks/kubectl: apply, ownership, ordering, prune,
readiness rules that kstatus gets wrong, outputs, connection options."""

import base64
import json
import os

from hook_kubectl.backends import k8s_applyset as applyset
from tests.backends.kubernetes import manifests as m

PART_OF = applyset.PART_OF_LABEL


def test_create_applies_waits_and_marks_ownership(cluster, hook):
    config = m.dump(m.deployment("web", cluster.images["ok"], replicas=2), m.service("web"),
                    m.config_map("settings"))
    run = hook.run(config, declare=[{"name": "ip"}, {"name": "applied"}, {"name": "result"}],
                   outputs={"ip": "service/web:{.spec.clusterIP}"})
    assert run.status == 0, run
    assert f"Deployment/web in {hook.namespace}: created, ready (2/2 available)" in run.stdout
    assert f"Service/web in {hook.namespace}: created, ready" in run.stdout
    live_service = cluster.get("v1", "Service", "web", hook.namespace)
    assert run.result["ip"] == live_service["spec"]["clusterIP"]
    assert sorted(run.result["applied"]) == sorted(
        f"{k}/{hook.namespace}/{n}" for k, n in (("Deployment", "web"), ("Service", "web"),
                                                 ("ConfigMap", "settings")))
    assert run.result["result"][f"Deployment/web in {hook.namespace}"].startswith("created, ready")

    # ApplySet: one parent Secret for the identity; members point at it.
    parents = cluster.list("v1", "Secret", hook.namespace, label_selector=applyset.ID_LABEL)
    assert len(parents) == 1
    parent = parents[0]
    set_id = parent["metadata"]["labels"][applyset.ID_LABEL]
    assert set_id == applyset.applyset_id(parent["metadata"]["name"], hook.namespace)
    annotations = parent["metadata"]["annotations"]
    assert annotations[applyset.GROUP_KINDS_ANNOTATION] == "ConfigMap,Deployment.apps,Service"
    assert annotations[applyset.TOOLING_ANNOTATION] == "heat-config-kubectl/v1"
    for api_version, kind, name in (("apps/v1", "Deployment", "web"), ("v1", "Service", "web"),
                                    ("v1", "ConfigMap", "settings")):
        live = cluster.get(api_version, kind, name, hook.namespace)
        labels, notes = live["metadata"]["labels"], live["metadata"]["annotations"]
        assert labels[PART_OF] == set_id
        assert labels["app.kubernetes.io/managed-by"] == "heat-config-kubectl"
        assert notes["kubectl.heat.openstack.org/stack-id"] == hook.stack_id
        assert notes["kubectl.heat.openstack.org/resource-name"] == "App"
        managers = {f["manager"] for f in live["metadata"]["managedFields"] if f["operation"] == "Apply"}
        assert managers == {"heat-config-kubectl"}

    # The same config again (Heat gives it a new config id) changes nothing.
    again = hook.run(config, action="UPDATE")
    assert again.status == 0, again
    assert f"Deployment/web in {hook.namespace}: unchanged, ready" in again.stdout, again
    assert f"ConfigMap/settings in {hook.namespace}: unchanged" in again.stdout, again
    assert cluster.get("apps/v1", "Deployment", "web", hook.namespace)["metadata"]["generation"] == 1


def test_update_prunes_members_only(cluster, hook):
    # An unrelated object with the same labels (but no ApplySet membership)
    # must survive the prune.
    look_alike_labels = {"app.kubernetes.io/managed-by": "heat-config-kubectl", "app": "a"}
    bystander = m.config_map("bystander", labels=look_alike_labels)
    bystander["metadata"]["namespace"] = hook.namespace
    cluster.create(bystander)

    three = [m.config_map("a", labels={"app": "a"}), m.config_map("b", labels={"app": "a"}),
             m.config_map("c", labels={"app": "a"})]
    assert hook.run(m.dump(*three)).status == 0
    run = hook.run(m.dump(three[0], three[2]), action="UPDATE")
    assert run.status == 0, run
    assert f"ConfigMap/b in {hook.namespace}: pruned" in run.stdout
    assert cluster.get("v1", "ConfigMap", "b", hook.namespace) is None
    assert cluster.get("v1", "ConfigMap", "a", hook.namespace) is not None
    assert cluster.get("v1", "ConfigMap", "c", hook.namespace) is not None
    assert cluster.get("v1", "ConfigMap", "bystander", hook.namespace) is not None


def test_prune_of_a_kind_no_longer_in_the_config(cluster, hook):
    assert hook.run(m.dump(m.config_map("keep"), m.service("gone"))).status == 0
    run = hook.run(m.dump(m.config_map("keep")), action="UPDATE")
    assert run.status == 0, run
    assert cluster.get("v1", "Service", "gone", hook.namespace) is None
    parent = cluster.list("v1", "Secret", hook.namespace, label_selector=applyset.ID_LABEL)[0]
    assert parent["metadata"]["annotations"][applyset.GROUP_KINDS_ANNOTATION] == "ConfigMap"


def test_two_deployments_claiming_one_object(cluster, hook, other_hook):
    assert hook.run(m.dump(m.config_map("shared", owner="first"))).status == 0
    run = other_hook.run(m.dump(m.config_map("mine"), m.config_map("shared", owner="second")))
    assert run.status != 0
    assert f"ConfigMap/shared in {hook.namespace}" in run.stderr
    assert "belongs to another deployment (App in stack" in run.stderr
    # Refused before anything was applied: no takeover, no half-applied set.
    assert cluster.get("v1", "ConfigMap", "shared", hook.namespace)["data"] == {"owner": "first"}
    assert cluster.get("v1", "ConfigMap", "mine", hook.namespace) is None
    # Not even force_conflicts takes another deployment's object.
    forced = other_hook.run(m.dump(m.config_map("shared", owner="second")), force_conflicts=True)
    assert forced.status != 0 and "another deployment" in forced.stderr
    # The first owner still manages it.
    assert hook.run(m.dump(m.config_map("shared", owner="first-2")), action="UPDATE").status == 0
    assert cluster.get("v1", "ConfigMap", "shared", hook.namespace)["data"] == {"owner": "first-2"}


def test_existing_unowned_object_is_a_conflict_unless_forced(cluster, hook):
    stray = m.config_map("stray", k="theirs")
    stray["metadata"]["namespace"] = hook.namespace
    cluster.create(stray)
    run = hook.run(m.dump(m.config_map("stray", k="ours")))
    assert run.status != 0
    assert "ConfigMap/stray" in run.stderr and "force_conflicts" in run.stderr
    assert cluster.get("v1", "ConfigMap", "stray", hook.namespace)["data"] == {"k": "theirs"}
    adopted = hook.run(m.dump(m.config_map("stray", k="ours")), force_conflicts=True)
    assert adopted.status == 0, adopted
    assert cluster.get("v1", "ConfigMap", "stray", hook.namespace)["data"] == {"k": "ours"}


def test_field_conflict_names_the_other_manager(cluster, hook):
    assert hook.run(m.dump(m.config_map("tuned", level="1"))).status == 0
    # Someone else takes the field over with their own server-side apply.
    other = m.config_map("tuned", level="9")
    other["metadata"]["namespace"] = hook.namespace
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=ops-team",
                    "-f", "-", input=json.dumps(other))
    run = hook.run(m.dump(m.config_map("tuned", level="2")), action="UPDATE")
    assert run.status != 0
    assert "ops-team" in run.stderr and "force_conflicts" in run.stderr
    assert cluster.get("v1", "ConfigMap", "tuned", hook.namespace)["data"] == {"level": "9"}
    forced = hook.run(m.dump(m.config_map("tuned", level="2")), action="UPDATE", force_conflicts=True)
    assert forced.status == 0, forced
    assert cluster.get("v1", "ConfigMap", "tuned", hook.namespace)["data"] == {"level": "2"}


def test_crd_and_custom_resource_in_one_config(cluster, hook):
    group = f"{hook.namespace}.example.com"  # CRDs are cluster-wide: unique per test
    definition = m.crd(group=group)
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"},
              "spec": {"size": 3}}
    # The custom resource comes first in the config: ordering is the hook's job.
    run = hook.run(m.dump(widget, definition))
    assert run.status == 0, run
    assert f"CustomResourceDefinition/widgets.{group}: created, ready (established)" in run.stdout
    assert f"Widget/w1 in {hook.namespace}: created, ready" in run.stdout
    live = cluster.get(f"{group}/v1", "Widget", "w1", hook.namespace)
    assert live["spec"] == {"size": 3}
    assert live["metadata"]["labels"][PART_OF]
    parent = cluster.list("v1", "Secret", hook.namespace, label_selector=applyset.ID_LABEL)[0]
    kinds = parent["metadata"]["annotations"][applyset.GROUP_KINDS_ANNOTATION]
    assert kinds == f"CustomResourceDefinition.apiextensions.k8s.io,Widget.{group}"
    assert hook.run("", action="DELETE").status == 0
    assert cluster.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}") is None


def test_namespace_in_the_config_is_created_first(cluster, hook):
    target = hook.namespace + "-app"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target}}
    cm = m.config_map("inside")
    cm["metadata"]["namespace"] = target
    run = hook.run(m.dump(cm, namespace))
    assert run.status == 0, run
    assert cluster.get("v1", "ConfigMap", "inside", target)["metadata"]["labels"][PART_OF]
    parent = cluster.list("v1", "Secret", hook.namespace, label_selector=applyset.ID_LABEL)[0]
    assert parent["metadata"]["annotations"][applyset.NAMESPACES_ANNOTATION] == target
    assert hook.run("", action="DELETE").status == 0
    assert cluster.get("v1", "Namespace", target) is None


def test_job_must_complete(cluster, hook):
    run = hook.run(m.dump(m.job("migrate", cluster.images["ok"])), declare=[{"name": "done"}],
                   outputs={"done": "job/migrate:{.status.succeeded}"})
    assert run.status == 0, run
    assert run.result["done"] == 1
    assert f"Job/migrate in {hook.namespace}: created, ready (complete)" in run.stdout
    live = cluster.get("batch/v1", "Job", "migrate", hook.namespace)
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in live["status"]["conditions"])


def test_job_that_fails(cluster, hook):
    image = cluster.images["job-fail"]
    run = hook.run(m.dump(m.job("migrate", image, command=["sh", "-c", "echo no database; exit 1"])))
    assert run.status != 0
    assert f"Job/migrate in {hook.namespace}" in run.stderr
    assert "BackoffLimitExceeded" in run.stderr
    assert "    no database" in run.stderr, run  # the failed pod's log
    assert run.elapsed < 30, run


def test_load_balancer_waits_for_ingress(cluster, hook, fake):
    fake.delays.load_balancer = 1.5
    try:
        run = hook.run(m.dump(m.service("front", kind="LoadBalancer")), declare=[{"name": "address"}],
                       outputs={"address": "service/front:{.status.loadBalancer.ingress[0].ip}"})
    finally:
        fake.delays.load_balancer = 0.3
    assert run.status == 0, run
    assert run.elapsed >= 1.5  # kstatus would have called it ready at once
    assert "ready (ingress " in run.stdout
    live = cluster.get("v1", "Service", "front", hook.namespace)
    assert run.result["address"] == live["status"]["loadBalancer"]["ingress"][0]["ip"]


def test_pvc_waiting_for_first_consumer_does_not_deadlock(cluster, hook, fake):
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"storageClassName": "wait-for-consumer", "accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": "1Gi"}}}}
    bound = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "bound"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    run = hook.run(m.dump(claim, bound), timeout=30)
    assert run.status == 0, run
    assert f"PersistentVolumeClaim/data in {hook.namespace}: created, ready (waits for its first consumer)" \
        in run.stdout
    assert f"PersistentVolumeClaim/bound in {hook.namespace}: created, ready (bound)" in run.stdout
    assert cluster.get("v1", "PersistentVolumeClaim", "data", hook.namespace)["status"]["phase"] == "Pending"
    assert run.elapsed < 10


def test_output_that_matches_nothing_names_the_output(cluster, hook):
    run = hook.run(m.dump(m.config_map("c")), declare=[{"name": "missing"}],
                   outputs={"missing": "configmap/c:{.data.nope}"})
    assert run.status != 0
    assert "output missing" in run.stderr


def test_wait_false_skips_waiting(cluster, hook):
    run = hook.run(m.dump(m.deployment("late", cluster.images["pull-error"])), wait=False)
    assert run.status == 0, run
    assert "readiness not checked" in run.stdout


def test_unknown_kind_is_reported_plainly(cluster, hook):
    run = hook.run(m.dump({"apiVersion": "nope.example.com/v1", "kind": "Gadget",
                           "metadata": {"name": "g"}}))
    assert run.status != 0
    assert "Gadget/g" in run.stderr and "no kind Gadget" in run.stderr
    assert "Traceback" not in run.log


def test_kubeconfig_from_environment(cluster, hook, fake):
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig)
    run = hook.run(m.dump(m.config_map("via-env")), env=env, kubeconfig=None)
    assert run.status == 0, run
    assert cluster.get("v1", "ConfigMap", "via-env", hook.namespace) is not None


def test_bad_credentials_fail_plainly_without_retrying(cluster, hook, fake):
    kubeconfig = fake.kubeconfig(user="eve", auth="none")
    fake.requests.clear()
    run = hook.run(m.dump(m.config_map("c")), kubeconfig=kubeconfig, timeout=60)
    assert run.status != 0
    assert "401" in run.stderr
    assert run.elapsed < 10, run  # not retried until the deadline
    token = fake.admin_token
    assert token not in json.dumps(run.result) and token not in run.log


def test_missing_kubeconfig_names_the_option(cluster, hook):
    run = hook.run(m.dump(m.config_map("c")), kubeconfig="/nonexistent/kubeconfig")
    assert run.status != 0
    assert "options.kubeconfig" in run.stderr and "/nonexistent/kubeconfig" in run.stderr


def test_secrets_never_in_the_result(cluster, hook):
    password = "s3cr3t-Pa55word-" + hook.namespace
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
              "stringData": {"password": password}}
    encoded = base64.b64encode(password.encode()).decode()
    app = m.deployment("uses-secret", cluster.images["ok"], container={"env": [
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]})
    outputs = [{"name": "applied"}, {"name": "result"}]
    runs = [hook.run(m.dump(secret, app), declare=outputs),
            hook.run(m.dump(secret, app), action="UPDATE", dry_run=True),
            hook.run(m.dump(dict(secret, stringData={"password": password + "2"}), app),
                     action="UPDATE", dry_run=True)]
    assert runs[0].status == 0, runs[0]
    assert "Secret/db" in runs[2].stdout
    for run in runs:
        text = json.dumps(run.result) + run.log
        assert password not in text and encoded not in text
        if cluster.fake is not None:
            assert cluster.fake.admin_token not in text
    live = cluster.get("v1", "Secret", "db", hook.namespace)
    assert base64.b64decode(live["data"]["password"]).decode() == password


def test_crd_whose_names_are_not_accepted_fails_fast(cluster, hook, other_hook):
    group = f"{hook.namespace}.example.com"
    assert hook.run(m.dump(m.crd(group=group, kind="Gizmo", plural="gizmos"))).status == 0
    # Same group and kind, another plural: the names clash.
    clash = m.crd(group=group, kind="Gizmo", plural="gadgets")
    run = other_hook.run(m.dump(clash, {"apiVersion": f"{group}/v1", "kind": "Gizmo",
                                        "metadata": {"name": "g"}}), timeout=300)
    assert run.status != 0
    assert run.elapsed < 10, run
    assert f"CustomResourceDefinition/gadgets.{group}" in run.stderr
    assert "names not accepted" in run.stderr, run
    for each in (hook, other_hook):
        assert each.run("", action="DELETE").status == 0


def test_missing_namespace_is_reported_plainly(cluster, hook):
    run = hook.run(m.dump(m.config_map("c")), namespace=hook.namespace + "-missing")
    assert run.status != 0
    assert f"{hook.namespace}-missing" in run.stderr and "not found" in run.stderr, run
    assert "internal error" not in run.stderr and "Traceback" not in run.log


def test_apply_order_namespaces_then_what_pods_use_then_workloads(cluster, hook, fake):
    target = hook.namespace + "-o"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target}}
    objects = [m.deployment("web", cluster.images["ok"]), m.job("init", cluster.images["ok"]),
               m.config_map("settings"), m.service("web"), namespace]
    for obj in objects[:-1]:
        obj["metadata"]["namespace"] = target
    fake.requests.clear()
    run = hook.run(m.dump(*objects))
    assert run.status == 0, run
    applies = [r for r in fake.requests.matching(verb="patch") if r.resource != "secrets"]
    order = {r.resource: i for i, r in reversed(list(enumerate(applies)))}
    assert order["namespaces"] < order["configmaps"] < order["deployments"]
    assert order["services"] < order["jobs"]
    assert hook.run("", action="DELETE").status == 0
    deletes = [r.resource for r in fake.requests.matching(verb="delete") if r.resource != "secrets"]
    assert deletes.index("deployments") < deletes.index("configmaps") < deletes.index("namespaces")


def test_custom_resource_waits_for_its_kind_in_discovery(cluster, hook, fake):
    # Some API servers serve a new kind in discovery a moment after its CRD
    # is Established: the hook looks again instead of failing.
    group = f"{hook.namespace}.example.com"
    lag = fake.faults.add("error", code=404, verb="get", path=f"/apis/{group}/v1", times=8)
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}}
    run = hook.run(m.dump(m.crd(group=group), widget))
    assert run.status == 0, run
    assert lag.hits == 8
    assert cluster.get(f"{group}/v1", "Widget", "w1", hook.namespace) is not None
    assert hook.run("", action="DELETE").status == 0


def test_manifest_saved_from_the_server_applies(cluster, hook):
    assert hook.run(m.dump(m.config_map("exported", k="v1"))).status == 0
    # Saved with `kubectl get -o yaml` long ago: a stale resourceVersion
    # (a precondition that would fail), uid, managedFields and status.
    saved = m.config_map("exported", k="v2")
    saved["metadata"].update({"resourceVersion": "1", "uid": "0000", "generation": 3,
                              "creationTimestamp": "2020-01-01T00:00:00Z",
                              "managedFields": [{"manager": "kubectl", "operation": "Apply"}]})
    saved["status"] = {}
    run = hook.run(m.dump(saved), action="UPDATE")
    assert run.status == 0, run
    live = cluster.get("v1", "ConfigMap", "exported", hook.namespace)
    assert live["data"] == {"k": "v2"}
    assert {f["manager"] for f in live["metadata"]["managedFields"]} == {"heat-config-kubectl"}
