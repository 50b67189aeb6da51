"""Watch streams: chunked JSON events from a resourceVersion on, bookmarks, the initial
events of sendInitialEvents, 410 (as an ERROR event) for a compacted resourceVersion,
and selectors that see objects enter (ADDED) and leave (DELETED)."""

import json
import ssl
import time

from . import errors, tables
from .cluster import fields_match, labels_match, parse_field_selector, parse_label_selector
from .storage import TooOld


def stream(handler, api, res, ns):
    """Answer a watch request on `handler` (the HTTP request handler) with a chunked
    stream of events until timeoutSeconds, a fault cuts it, or the server stops."""
    cluster, store = api.cluster, api.cluster.store
    q = handler.query
    labels = parse_label_selector(q.get("labelSelector", ""))
    fields = parse_field_selector(q.get("fieldSelector", ""))
    timeout = float(q.get("timeoutSeconds") or api.watch_timeout)
    bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
    rv_param = q.get("resourceVersion", "")
    initial = []
    with store.lock:
        if ns:
            cluster._check_namespace(res, ns)
        current = store.rv
        matching = {(o["metadata"].get("namespace", ""), o["metadata"]["name"])
                    for o in store.list(res.key, ns)
                    if (not labels or labels_match(labels, o)) and (not fields or fields_match(fields, o))}
        if rv_param in ("", "0") or q.get("sendInitialEvents") == "true":
            initial = [cluster._output(res, o) for o in store.list(res.key, ns)
                       if (not labels or labels_match(labels, o))
                       and (not fields or fields_match(fields, o))]
            since = current
        else:
            try:
                since = int(rv_param)
            except ValueError:
                raise errors.bad_request(f"invalid resource version {rv_param!r}") from None
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Cache-Control", "no-cache, private")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.record.code = 200
    handler.end_headers()
    handler.close_connection = True
    sent = 0

    as_table = tables.wants_table(handler.headers.get("Accept"))     # kubectl get -w
    columns = handler._printer_columns(api, res) if as_table else None

    def emit(event_type, obj):
        nonlocal sent
        if as_table and event_type in ("ADDED", "MODIFIED", "DELETED"):
            obj = tables.table(res, [obj], columns, q.get("includeObject", "Metadata"),
                               obj["metadata"].get("resourceVersion", ""))
        if handler.cut_after is not None and sent >= handler.cut_after:
            raise _Cut()
        line = json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
        handler.wfile.flush()
        sent += 1

    def bookmark(rv, initial_end=False):
        meta = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        emit("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta})

    try:
        if handler.cut_after == 0:
            raise _Cut()
        for obj in initial:
            emit("ADDED", obj)
        if q.get("sendInitialEvents") == "true":
            bookmark(since, initial_end=True)
        deadline = time.time() + timeout
        last_bookmark = time.time()
        while time.time() < deadline and not api.stopping.is_set():
            try:
                changes, seen = store.changes_since(since, res.key)
            except TooOld:
                emit("ERROR", errors.gone(f"too old resource version: {since} "
                                          f"({store.compacted_rv})").status())
                break
            for rv, event_type, _, obj in changes:
                if ns and obj["metadata"].get("namespace") != ns:
                    continue
                if not (labels or fields):
                    emit(event_type, cluster._output(res, obj))
                    continue
                # with a selector, an object that starts or stops matching is
                # ADDED or DELETED for this watch, as on a real server
                key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                now = (not labels or labels_match(labels, obj)) and \
                    (not fields or fields_match(fields, obj))
                if event_type == "DELETED":
                    if key in matching:
                        matching.discard(key)
                        emit("DELETED", cluster._output(res, obj))
                elif now:
                    emit(event_type if key in matching else "ADDED", cluster._output(res, obj))
                    matching.add(key)
                elif key in matching:
                    matching.discard(key)
                    emit("DELETED", cluster._output(res, obj))
            since = seen
            if bookmarks and time.time() - last_bookmark >= api.bookmark_interval:
                bookmark(since)
                last_bookmark = time.time()
            store.wait(since, min(0.25, max(0.0, deadline - time.time())))
        if not api.stopping.is_set():
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
    except _Cut:
        handler._abort()
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
        pass


class _Cut(Exception):
    pass
