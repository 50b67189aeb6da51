"""Faults injected on demand, and the request log.

    fault = api.faults.add("error", code=429, retry_after=1, verb="list", resource="pods", times=2)
    fault.hits      # how many requests it hit
    fault.remove()

Actions:
  latency   sleep `seconds` before answering
  error     answer `code` (429 with Retry-After `retry_after`, 500, 503, ...) with a Status body
  drop      send the headers and part of the body, then close the connection
  cut_watch end a watch stream after `after_events` events (0: right after it opened),
            without the final chunk, as a dropped connection does
Filters (None matches anything): verb (get/list/watch/create/update/patch/delete/
deletecollection), resource (plural, e.g. "deployments"), namespace, name, path
(substring of the URL path). `times`: how many matching requests to hit (None: all).
"""

import collections
import threading
import time
from dataclasses import dataclass, field

ACTIONS = ("latency", "error", "drop", "cut_watch")


@dataclass
class Fault:
    action: str
    verb: str = None
    resource: str = None
    namespace: str = None
    name: str = None
    path: str = None
    times: int = None
    seconds: float = 0.0
    code: int = 500
    retry_after: int = 1
    after_events: int = 0
    hits: int = 0
    _owner: object = field(default=None, repr=False, compare=False)

    def matches(self, record):
        return ((self.verb is None or self.verb == record.verb)
                and (self.resource is None or self.resource == record.resource)
                and (self.namespace is None or self.namespace == record.namespace)
                and (self.name is None or self.name == record.name)
                and (self.path is None or self.path in record.path))

    def remove(self):
        self._owner.remove(self)


class Faults:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, action, **kw):
        if action not in ACTIONS:
            raise ValueError(f"unknown fault action {action!r}; one of {ACTIONS}")
        fault = Fault(action, _owner=self, **kw)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault):
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self):
        with self._lock:
            self._faults.clear()

    def take(self, record):
        """The faults that hit this request (each use counts against `times`)."""
        hit = []
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(record):
                    continue
                fault.hits += 1
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                hit.append(fault)
        return hit


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str
    verb: str
    resource: str = None        # plural; None for discovery/openapi/version
    subresource: str = None
    namespace: str = None
    name: str = None
    user: str = None
    user_agent: str = ""
    content_type: str = ""
    code: int = 0
    started: float = field(default_factory=time.time)
    duration: float = 0.0


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self.records = []

    def add(self, record):
        with self._lock:
            self.records.append(record)

    def clear(self):
        with self._lock:
            self.records = []

    def counts(self, by=("verb", "resource")):
        """Counter of requests keyed by the given record fields, e.g. {("list", "pods"): 3}."""
        with self._lock:
            records = list(self.records)
        if isinstance(by, str):
            return collections.Counter(getattr(r, by) for r in records)
        return collections.Counter(tuple(getattr(r, f) for f in by) for r in records)

    def matching(self, **filters):
        with self._lock:
            return [r for r in self.records
                    if all(getattr(r, k) == v for k, v in filters.items())]
