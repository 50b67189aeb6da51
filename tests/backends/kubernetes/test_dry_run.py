"""options.dry_run: a server-side dry run and a diff, changing nothing."""

from hook_kubectl.backends import k8s_applyset as applyset
from tests.backends.kubernetes import manifests as m


def _mutations(fake):
    return [r for r in fake.requests.records
            if r.method in ("POST", "PUT", "PATCH", "DELETE") and "dryRun=All" not in r.query]


def test_dry_run_of_a_new_deployment_creates_nothing(cluster, hook, fake):
    fake.requests.clear()
    run = hook.run(m.dump(m.deployment("web", cluster.images["ok"]), m.config_map("c", k="v")),
                   dry_run=True)
    assert run.status == 0, run
    assert f"Deployment/web in {hook.namespace}: would create" in run.stdout
    assert "dry run: nothing was changed" in run.stdout
    assert "+  k: v" in run.stdout  # the diff shows what would be created
    assert _mutations(fake) == []
    assert fake.requests.matching(verb="patch")  # the server did dry-run the apply
    assert cluster.get("apps/v1", "Deployment", "web", hook.namespace) is None
    assert cluster.list("v1", "Secret", hook.namespace, label_selector=applyset.ID_LABEL) == []


def test_dry_run_update_shows_diff_and_prune(cluster, hook, fake):
    assert hook.run(m.dump(m.config_map("a", k="old"), m.config_map("b"), m.config_map("same"))).status == 0
    fake.requests.clear()
    run = hook.run(m.dump(m.config_map("a", k="new"), m.config_map("same")), action="UPDATE",
                   dry_run=True)
    assert run.status == 0, run
    assert f"ConfigMap/a in {hook.namespace}: would configure" in run.stdout
    assert f"ConfigMap/same in {hook.namespace}: unchanged" in run.stdout
    assert f"ConfigMap/b in {hook.namespace}: would prune" in run.stdout
    assert "-  k: old" in run.stdout and "+  k: new" in run.stdout
    assert "managedFields" not in run.stdout and "resourceVersion" not in run.stdout
    assert _mutations(fake) == []
    assert cluster.get("v1", "ConfigMap", "a", hook.namespace)["data"] == {"k": "old"}
    assert cluster.get("v1", "ConfigMap", "b", hook.namespace) is not None


def test_dry_run_reports_ownership_conflicts(cluster, hook, other_hook):
    assert hook.run(m.dump(m.config_map("shared"))).status == 0
    run = other_hook.run(m.dump(m.config_map("shared")), dry_run=True)
    assert run.status != 0
    assert "belongs to another deployment" in run.stderr


def test_dry_run_with_crd_and_its_resource(cluster, hook, fake):
    group = f"{hook.namespace}.example.com"
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}}
    fake.requests.clear()
    run = hook.run(m.dump(m.crd(group=group), widget), dry_run=True)
    assert run.status == 0, run
    assert "Widget/w" in run.stdout and "not validated" in run.stdout
    assert _mutations(fake) == []
