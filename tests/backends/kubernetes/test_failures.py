"""Each pod failure mode is reported by name within seconds, with a 300 s
timeout: Helm --wait and kstatus only notice at the progress deadline."""

import pytest

from tests.backends.kubernetes import manifests as m
from tests.backends.kubernetes.conftest import NEVER_READY

FAST = 10.0  # seconds: the issue's bound for reporting a failure mode


def _missing_secret_env():
    return {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}]}


MODES = {
    # mode: (image key, container extras, pod extras, reason expected)
    "ErrImagePull": ("pull-error", {}, {}, "ErrImagePull"),
    "CrashLoopBackOff": ("crashloop", {"command": ["sh", "-c", "echo cannot reach db; exit 1"]}, {},
                         "CrashLoopBackOff"),
    "CreateContainerConfigError": ("ok", _missing_secret_env(), {}, "CreateContainerConfigError"),
    "InvalidImageName": ("invalid-image", {}, {}, "InvalidImageName"),
    "Unschedulable": ("ok", {}, {"nodeSelector": {"example.com/no-such-node": "true"}}, "Unschedulable"),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_failure_mode_reported_by_name_fast(cluster, hook, mode):
    image_key, container, pod, reason = MODES[mode]
    config = m.dump(m.deployment("web", cluster.images[image_key], container=container, pod=pod),
                    m.service("web"))
    run = hook.run(config, timeout=300)
    print(f"{mode}: reported in {run.elapsed:.2f}s")
    assert run.status != 0
    assert run.elapsed < FAST, run
    first = run.stderr.splitlines()[0]  # the one-line reason names object, pod and mode
    assert first.startswith(f"Deployment/web in {hook.namespace}: pod web-"), run
    assert reason in first, run
    assert f"Deployment/web in {hook.namespace}: failed" in run.stderr.splitlines()[1:], run
    assert f"Deployment/web in {hook.namespace}: created, NOT READY" in run.stdout, run
    assert "timed out" not in run.stderr


def test_image_pull_backoff_reported_by_name_fast(cluster, hook):
    """A pod already backing off (a second run after a failed one)."""
    config = m.dump(m.deployment("web", cluster.images["pull-error"]))
    assert hook.run(config, wait=False).status == 0

    def backing_off():
        pods = cluster.list("v1", "Pod", hook.namespace, label_selector="app=web")
        return any((s.get("state") or {}).get("waiting", {}).get("reason") == "ImagePullBackOff"
                   for p in pods for s in (p.get("status") or {}).get("containerStatuses") or [])

    cluster.wait_for(backing_off, timeout=120, what="ImagePullBackOff")
    run = hook.run(config, action="UPDATE", timeout=300)
    assert run.status != 0
    assert run.elapsed < FAST, run
    assert "ImagePullBackOff" in run.stderr.splitlines()[0], run


def test_diagnostics_name_object_events_and_log(cluster, hook):
    config = m.dump(m.deployment("api", cluster.images["crashloop"],
                                 container={"command": ["sh", "-c", "echo cannot reach db; exit 1"]}),
                    m.config_map("fine"))
    run = hook.run(config, timeout=300)
    assert run.status != 0
    lines = run.stderr.splitlines()
    assert lines[0].startswith(f"Deployment/api in {hook.namespace}: pod api-"), run
    assert "CrashLoopBackOff" in lines[0]
    assert f"Deployment/api in {hook.namespace}: failed" in lines, run
    # Recent Warning events of the pods, bounded.
    events = [line for line in lines if line.strip().startswith("event Warning")]
    assert events and len(events) <= 5, run
    assert any("BackOff" in line for line in events), run
    # The ready object is not blamed.
    assert "ConfigMap/fine" not in run.stderr
    assert len(run.stderr) < 20000


def test_crashing_container_log_in_diagnostics(cluster, hook):
    config = m.dump(m.deployment("api", cluster.images["crashloop"],
                                 container={"command": ["sh", "-c", "echo cannot reach db; exit 1"]}))
    run = hook.run(config, timeout=300)
    assert run.status != 0
    assert "last log lines of pod api-" in run.stderr, run
    assert "    cannot reach db" in run.stderr, run


def test_timeout_names_what_is_not_ready(cluster, hook):
    config = m.dump(m.deployment("slow", cluster.images["never-ready"], container=NEVER_READY),
                    m.config_map("quick"))
    run = hook.run(config, timeout=2)
    assert run.status != 0
    assert run.elapsed < 15, run
    first = run.stderr.splitlines()[0]
    assert first.startswith("timed out after 2s waiting until ready"), run
    assert f"Deployment/slow in {hook.namespace} (0 of 1 replicas available)" in first, run
    assert "ConfigMap/quick" not in run.stderr


def test_rolling_update_to_a_bad_image_fails_fast(cluster, hook):
    assert hook.run(m.dump(m.deployment("web", cluster.images["ok"], replicas=2))).status == 0
    run = hook.run(m.dump(m.deployment("web", cluster.images["pull-error"], replicas=2)),
                   action="UPDATE", timeout=300)
    assert run.status != 0
    assert run.elapsed < FAST, run
    assert "ErrImagePull" in run.stderr or "ImagePullBackOff" in run.stderr, run


def test_update_that_fixes_a_crashing_deployment_is_not_blamed_for_old_pods(cluster, hook):
    crashing = m.deployment("web", cluster.images["crashloop"], replicas=2,
                            container={"command": ["sh", "-c", "exit 1"]})
    assert hook.run(m.dump(crashing), timeout=300).status != 0
    # The old ReplicaSet's pods still crash while the new ones start: only
    # the new ones count.
    fixed = hook.run(m.dump(m.deployment("web", cluster.images["slow-start"], replicas=2)),
                     action="UPDATE", timeout=300)
    assert fixed.status == 0, fixed
    assert "ready (2/2 available)" in fixed.stdout


def test_diagnostics_do_not_lag_behind_the_failure(cluster, hook, fake):
    # The pods' watch is slow to answer: the Job's failure is seen first,
    # and its explanation must still show the failed pod's log.
    fake.faults.add("latency", seconds=3, verb="watch", resource="pods")
    run = hook.run(m.dump(m.job("migrate", cluster.images["job-fail"],
                                command=["sh", "-c", "echo no database; exit 1"])), timeout=300)
    assert run.status != 0
    assert "BackoffLimitExceeded" in run.stderr
    assert "    no database" in run.stderr, run
