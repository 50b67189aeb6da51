"""Which pods count for a workload: only those of its current revision."""

from hook_kubectl.backends.k8s_watch import Related, WatchCache


class Resource:
    def __init__(self, kind, group_version):
        self.kind, self.group_version, self.namespaced = kind, group_version, True


PODS, SETS = Resource("Pod", "v1"), Resource("ReplicaSet", "apps/v1")


class Cache:
    def __init__(self, pods, sets):
        self.stores = {WatchCache.key(PODS, "ns"): pods, WatchCache.key(SETS, "ns"): sets}

    def items(self, key):
        return list(self.stores.get(key, []))


def owned(kind, name, owner_uid, uid=None, **meta):
    return {"kind": kind, "metadata": dict(name=name, namespace="ns", uid=uid or name,
                                           ownerReferences=[{"uid": owner_uid}], **meta)}


def replica_set(name, revision):
    return owned("ReplicaSet", name, "dep-uid",
                 annotations={"deployment.kubernetes.io/revision": str(revision)})


def deployment(revision=None):
    meta = {"name": "web", "namespace": "ns", "uid": "dep-uid"}
    if revision is not None:
        meta["annotations"] = {"deployment.kubernetes.io/revision": str(revision)}
    return {"kind": "Deployment", "metadata": meta, "spec": {"selector": {"matchLabels": {"app": "web"}}}}


def names(pods):
    return sorted(p["metadata"]["name"] for p in pods)


PODS_BY_SET = [owned("Pod", "old-1", "rs-old"), owned("Pod", "new-1", "rs-new"), owned("Pod", "x", "other")]


def test_deployment_pods_of_its_current_revision_only():
    related = Related(Cache(PODS_BY_SET, [replica_set("rs-old", 1), replica_set("rs-new", 2)]), PODS, SETS)
    assert names(related.pods_of(deployment(revision=2))) == ["new-1"]
    assert names(related.pods_of(deployment(revision=1))) == ["old-1"]
    # Not yet revised: the newest ReplicaSet known.
    assert names(related.pods_of(deployment())) == ["new-1"]


def test_current_revision_not_seen_yet_means_no_pods():
    related = Related(Cache(PODS_BY_SET, [replica_set("rs-old", 1)]), PODS, SETS)
    assert related.pods_of(deployment(revision=2)) == []


def test_stateful_set_pods_of_the_update_revision():
    pods = [owned("Pod", "db-0", "sts", labels={"controller-revision-hash": "db-new"}),
            owned("Pod", "db-1", "sts", labels={"controller-revision-hash": "db-old"})]
    related = Related(Cache(pods, []), PODS, SETS)
    sts = {"kind": "StatefulSet", "metadata": {"name": "db", "namespace": "ns", "uid": "sts"},
           "status": {"updateRevision": "db-new"}}
    assert names(related.pods_of(sts)) == ["db-0"]


def test_job_pods_by_owner_then_selector():
    pods = [owned("Pod", "j-1", "job-uid"),
            {"kind": "Pod", "metadata": {"name": "s-1", "namespace": "ns", "labels": {"app": "s"}}}]
    related = Related(Cache(pods, []), PODS, SETS)
    job = {"kind": "Job", "metadata": {"name": "j", "namespace": "ns", "uid": "job-uid"}}
    assert names(related.pods_of(job)) == ["j-1"]
    orphan = {"kind": "Job", "metadata": {"name": "s", "namespace": "ns", "uid": "no-pods"},
              "spec": {"selector": {"matchLabels": {"app": "s"}}}}
    assert names(related.pods_of(orphan)) == ["s-1"]
