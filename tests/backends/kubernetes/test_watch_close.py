"""Stopping the watches must not wait for the server's next event."""

import time

from hook_kubectl.backends.base import Deadline
from hook_kubectl.backends.k8s_client import Connection
from hook_kubectl.backends.k8s_watch import WatchCache
from tests.kubeapi import KubeAPI


def test_close_returns_without_waiting_for_the_next_event():
    # No events and no bookmarks for 30 s: a close() that waits for the
    # stream's next chunk (as it did) takes that long.
    with KubeAPI(bookmark_interval=30) as api:
        deadline = Deadline(60)
        conn = Connection({"kubeconfig": api.kubeconfig_path, "concurrency": 4}, deadline, environ={})
        cache = WatchCache(conn)
        try:
            key = cache.ensure(conn.resource("v1", "ConfigMap"), "default")
            while not cache.synced(key):
                assert not deadline.expired()
                time.sleep(0.05)
            time.sleep(0.5)  # the watch request is open and blocked in read()
            started = time.monotonic()
            cache.close()
            took = time.monotonic() - started
        finally:
            conn.close()
    assert took < 5, f"closing the watches took {took:.1f}s"
