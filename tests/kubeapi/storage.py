"""In-memory object store with one resourceVersion counter and a bounded
history of changes that watches replay (like etcd behind a real server)."""

import collections
import copy
import threading


class TooOld(Exception):
    """The resourceVersion asked for has been compacted away (HTTP 410)."""


class Store:
    def __init__(self, history=20000):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.rv = 1000
        self.objects = collections.defaultdict(dict)   # (group, plural) -> {(ns, name): obj}
        self.history = collections.deque(maxlen=history)   # (rv, type, key, obj)
        self.compacted_rv = 0        # changes at or below this rv are gone
        self.listeners = []          # called as f(type, key, obj) under the lock
        self.closed = False

    # -- reads -------------------------------------------------------------
    def get(self, key, namespace, name):
        with self.lock:
            obj = self.objects[key].get((namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def peek(self, key, namespace, name):
        """The stored object itself (no copy): callers must not change it."""
        with self.lock:
            return self.objects[key].get((namespace or "", name))

    def list(self, key, namespace=None):
        """Stored objects (not copies), sorted by namespace and name."""
        with self.lock:
            items = self.objects[key]
            if namespace:
                return [items[k] for k in sorted(items) if k[0] == namespace]
            return [items[k] for k in sorted(items)]

    def keys(self):
        with self.lock:
            return [k for k, v in self.objects.items() if v]

    # -- writes ------------------------------------------------------------
    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def put(self, key, obj, event_type):
        """Store obj (already given its new resourceVersion) and record it."""
        with self.lock:
            meta = obj["metadata"]
            self.objects[key][(meta.get("namespace", ""), meta["name"])] = obj
            self._record(event_type, key, obj)

    def remove(self, key, namespace, name, rv):
        with self.lock:
            obj = self.objects[key].pop((namespace or "", name), None)
            if obj is not None:
                obj = copy.deepcopy(obj)
                obj["metadata"]["resourceVersion"] = rv
                self._record("DELETED", key, obj)
            return obj

    def _record(self, event_type, key, obj):
        if len(self.history) == self.history.maxlen:
            self.compacted_rv = int(self.history[0][0])
        self.history.append((int(obj["metadata"]["resourceVersion"]), event_type, key, obj))
        for listener in list(self.listeners):
            listener(event_type, key, obj)
        self.changed.notify_all()

    def compact(self):
        """Forget all history (as etcd compaction does): older watches get 410."""
        with self.lock:
            self.compacted_rv = self.rv
            self.history.clear()

    def clear(self):
        with self.lock:
            self.objects.clear()
            self.compact()

    # -- watch support -----------------------------------------------------
    def changes_since(self, rv, key):
        """(changes of one resource after rv oldest first, current rv). Raises TooOld."""
        with self.lock:
            if rv < self.compacted_rv:
                raise TooOld(rv)
            out = []
            for entry in reversed(self.history):
                if entry[0] <= rv:
                    break
                if entry[2] == key:
                    out.append(entry)
            out.reverse()
            return out, self.rv

    def wait(self, rv, timeout):
        """Block until something newer than rv happened (or timeout)."""
        with self.lock:
            if self.rv <= rv and not self.closed:
                self.changed.wait(timeout)
            return self.rv
