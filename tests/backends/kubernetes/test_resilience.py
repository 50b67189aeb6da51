"""Transient API trouble is survived inside the one deadline; what is not
transient fails plainly. Needs tests/kubeapi's fault injection."""

import threading

from tests.backends.kubernetes import manifests as m


def _app(cluster, image="ok"):
    return m.dump(m.deployment("web", cluster.images[image], replicas=2), m.service("web"),
                  m.config_map("settings"))


def test_429_storm_with_retry_after_is_survived(cluster, hook, fake):
    storm = fake.faults.add("error", code=429, retry_after=1, times=6)
    run = hook.run(_app(cluster))
    assert run.status == 0, run
    assert storm.hits == 6
    assert run.elapsed >= 5, run  # Retry-After was honoured, not hammered
    assert cluster.get("apps/v1", "Deployment", "web", hook.namespace) is not None


def test_503_storm_is_survived(cluster, hook, fake):
    storm = fake.faults.add("error", code=503, times=8)
    patch_errors = fake.faults.add("error", code=500, verb="patch", resource="deployments", times=2)
    run = hook.run(_app(cluster))
    assert run.status == 0, run
    assert storm.hits == 8 and patch_errors.hits == 2


def test_endless_503_fails_at_the_deadline_with_a_reason(cluster, hook, fake):
    # Discovery works; everything about ConfigMaps keeps failing.
    fake.faults.add("error", code=503, resource="configmaps")
    run = hook.run(m.dump(m.config_map("c")), timeout=3)
    assert run.status != 0
    assert "before the deadline" in run.stderr and "503" in run.stderr, run
    assert run.elapsed < 10, run


def test_forbidden_is_not_retried(cluster, hook, fake):
    fake.faults.add("error", code=403, resource="configmaps", verb="patch")
    run = hook.run(m.dump(m.config_map("c")), timeout=120)
    assert run.status != 0
    assert "403" in run.stderr, run
    assert run.elapsed < 10, run


def test_watch_cut_off_mid_wait_is_resumed(cluster, hook, fake):
    # Every pod watch is cut after one event, the deployment watch at once,
    # while the pods take seconds to get ready.
    pods = fake.faults.add("cut_watch", verb="watch", resource="pods", after_events=1)
    deployments = fake.faults.add("cut_watch", verb="watch", resource="deployments",
                                  after_events=0, times=3)
    fake.requests.clear()
    run = hook.run(_app(cluster, "slow-start"))
    assert run.status == 0, run
    assert pods.hits >= 1 and deployments.hits == 3
    assert "ready (2/2 available)" in run.stdout
    assert "cut" in run.log  # the hook said it resumed
    # It resumed watching; it did not fall back to polling each object.
    assert len(fake.requests.matching(verb="get", resource="deployments")) == 1  # before applying
    assert len(fake.requests.matching(verb="watch", resource="deployments")) == 4  # 3 cut + 1


def test_dropped_connections_are_retried(cluster, hook, fake):
    dropped_list = fake.faults.add("drop", verb="list", times=2)
    dropped_patch = fake.faults.add("drop", verb="patch", resource="services", times=1)
    run = hook.run(_app(cluster))
    assert run.status == 0, run
    assert dropped_list.hits == 2 and dropped_patch.hits == 1


def test_server_restart_mid_wait(cluster, hook, fake):
    timer = threading.Timer(1.5, lambda: fake.restart(keep_state=True))
    timer.start()
    try:
        run = hook.run(_app(cluster, "slow-start"))
    finally:
        timer.join()
    assert run.status == 0, run


def test_one_watch_per_kind_and_namespace(cluster, hook, fake):
    config = m.dump(*[m.deployment(f"web{i}", cluster.images["ok"]) for i in range(4)],
                    *[m.config_map(f"c{i}") for i in range(4)])
    fake.requests.clear()
    run = hook.run(config)
    assert run.status == 0, run
    watches = fake.requests.matching(verb="watch")
    kinds = sorted(r.resource for r in watches)
    assert kinds == ["configmaps", "deployments", "pods", "replicasets"], kinds
    assert len(fake.requests.matching(verb="get", resource="deployments")) <= 4  # the pre-apply reads


def _most_in_flight(records):
    return max(sum(1 for o in records if o.started <= r.started < o.started + o.duration)
               for r in records)


def test_concurrency_is_bounded(cluster, hook, fake):
    # Each apply takes 0.3 s on the server; the request log's own clock
    # shows how many were in flight together.
    fake.faults.add("latency", seconds=0.3, verb="patch", resource="configmaps")
    config = m.dump(*[m.config_map(f"c{i}") for i in range(8)])
    fake.requests.clear()
    assert hook.run(config, concurrency=1).status == 0
    serial = fake.requests.matching(verb="patch", resource="configmaps")
    fake.requests.clear()
    assert hook.run(config, action="UPDATE", concurrency=3).status == 0
    parallel = fake.requests.matching(verb="patch", resource="configmaps")
    assert len(serial) == len(parallel) == 8
    assert _most_in_flight(serial) == 1
    assert 2 <= _most_in_flight(parallel) <= 3


def test_expired_watch_version_lists_again(cluster, hook, fake):
    # The hook's watches are dropped and cannot come back while the cluster
    # moves on and forgets its history: resuming from the old
    # resourceVersion gets 410 Gone, so the hook lists again.
    def disconnect_while_history_expires():
        blocked = fake.faults.add("cut_watch", verb="watch", resource="deployments", after_events=0)
        fake.restart(keep_state=True)
        bystander = m.deployment("bystander", cluster.images["ok"])
        bystander["metadata"]["namespace"] = hook.namespace
        cluster.create(bystander)
        fake.compact()
        blocked.remove()

    fake.requests.clear()
    timer = threading.Timer(1.0, disconnect_while_history_expires)
    timer.start()
    try:
        run = hook.run(_app(cluster, "slow-start"))
    finally:
        timer.join()
    assert run.status == 0, run
    assert len(fake.requests.matching(verb="list", resource="deployments")) >= 2
