"""Server-side printing: meta.k8s.io/v1 Table answers for `kubectl get` (the columns a
real server prints for the common kinds; NAME/AGE for others, additionalPrinterColumns
for custom resources)."""

import calendar
import time

TABLE_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def wants_table(accept):
    for part in (accept or "").split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                  for p in part.split(";")[1:] if "=" in p}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
    return False


def _since(ts):
    if not ts:
        return "<unknown>"
    seconds = max(0, int(time.time() - calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))))
    return human_duration(seconds)


def human_duration(seconds):
    """apimachinery's duration.HumanDuration."""
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    days = hours // 24
    return f"{days // 365}y{days % 365}d" if days < 365 * 8 else f"{days // 365}y"


def _images(obj):
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _selector(obj):
    sel = (obj.get("spec") or {}).get("selector") or {}
    labels = sel.get("matchLabels", sel) if isinstance(sel, dict) else {}
    return ",".join(f"{k}={v}" for k, v in labels.items() if isinstance(v, str)) or "<none>"


def _cond(obj, ctype):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c.get("status")
    return None


def _pod_status(pod):
    meta, status = pod["metadata"], pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating"
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            reason = state["terminated"].get("reason") or reason
    if reason == "Pending" and _cond(pod, "PodScheduled") == "True":
        reason = "ContainerCreating" if not status.get("containerStatuses") else reason
    return reason


def _pod(p):
    statuses = (p.get("status") or {}).get("containerStatuses") or []
    total = len((p.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(c.get("restartCount", 0) for c in statuses)
    return [f"{ready}/{total}", _pod_status(p), restarts], \
        [(p.get("status") or {}).get("podIP") or "<none>", (p.get("spec") or {}).get("nodeName") or "<none>",
         "<none>", "<none>"]


def _deploy(d):
    s = d.get("status") or {}
    names, images = _images(d)
    return [f"{s.get('readyReplicas', 0)}/{(d.get('spec') or {}).get('replicas', 0)}",
            s.get("updatedReplicas", 0), s.get("availableReplicas", 0)], [names, images, _selector(d)]


def _rs(r):
    s = r.get("status") or {}
    names, images = _images(r)
    return [(r.get("spec") or {}).get("replicas", 0), s.get("replicas", 0), s.get("readyReplicas", 0)], \
        [names, images, _selector(r)]


def _sts(r):
    s = r.get("status") or {}
    names, images = _images(r)
    return [f"{s.get('readyReplicas', 0)}/{(r.get('spec') or {}).get('replicas', 0)}"], [names, images]


def _ds(d):
    s = d.get("status") or {}
    sel = ((d.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
    names, images = _images(d)
    return [s.get("desiredNumberScheduled", 0), s.get("currentNumberScheduled", 0), s.get("numberReady", 0),
            s.get("updatedNumberScheduled", 0), s.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in sel.items()) or "<none>"], [names, images, _selector(d)]


def _job(j):
    s = j.get("status") or {}
    status = "Complete" if _cond(j, "Complete") == "True" else "Failed" if _cond(j, "Failed") == "True" \
        else "Suspended" if _cond(j, "Suspended") == "True" else "Running"
    return [status, f"{s.get('succeeded', 0)}/{(j.get('spec') or {}).get('completions', 1)}",
            _since(s.get("startTime")) if s.get("startTime") else ""], []


def _cron(c):
    spec, s = c.get("spec") or {}, c.get("status") or {}
    return [spec.get("schedule", ""), spec.get("timeZone") or "<none>", str(spec.get("suspend", False)),
            len(s.get("active") or []), _since(s.get("lastScheduleTime")) if s.get("lastScheduleTime") else "<none>"], []


def _svc(s):
    spec = s.get("spec") or {}
    ingress = ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or \
        ("<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    ports = ",".join(f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
                     for p in spec.get("ports") or []) or "<none>"
    sel = spec.get("selector") or {}
    return [spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", external, ports], \
        [",".join(f"{k}={v}" for k, v in sel.items()) or "<none>"]


def _node(n):
    labels = n["metadata"].get("labels") or {}
    roles = ",".join(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")) or "<none>"
    ready = "Ready" if _cond(n, "Ready") == "True" else "NotReady"
    return [ready, roles, None, ((n.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")], []


def _pvc(c):
    spec, s = c.get("spec") or {}, c.get("status") or {}
    return [s.get("phase", "Pending"), spec.get("volumeName", ""), (s.get("capacity") or {}).get("storage", ""),
            _modes(s.get("accessModes")), spec.get("storageClassName") or "<unset>", "<unset>"], []


def _modes(modes):
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes or [])


def _event(e):
    inv = e.get("involvedObject") or {}
    return [e.get("type", ""), e.get("reason", ""), f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}",
            e.get("message", "")], []


NAME = ("Name", "string", "name", 0)
AGE = ("Age", "string", "", 0)
COLUMNS = {
    "Pod": ([("Ready", "string"), ("Status", "string"), ("Restarts", "string")],
            [("IP", "string"), ("Node", "string"), ("Nominated Node", "string"), ("Readiness Gates", "string")], _pod),
    "Deployment": ([("Ready", "string"), ("Up-to-date", "string"), ("Available", "string")],
                   [("Containers", "string"), ("Images", "string"), ("Selector", "string")], _deploy),
    "ReplicaSet": ([("Desired", "integer"), ("Current", "integer"), ("Ready", "integer")],
                   [("Containers", "string"), ("Images", "string"), ("Selector", "string")], _rs),
    "StatefulSet": ([("Ready", "string")], [("Containers", "string"), ("Images", "string")], _sts),
    "DaemonSet": ([("Desired", "integer"), ("Current", "integer"), ("Ready", "integer"), ("Up-to-date", "integer"),
                   ("Available", "integer"), ("Node Selector", "string")],
                  [("Containers", "string"), ("Images", "string"), ("Selector", "string")], _ds),
    "Job": ([("Status", "string"), ("Completions", "string"), ("Duration", "string")], [], _job),
    "CronJob": ([("Schedule", "string"), ("Timezone", "string"), ("Suspend", "boolean"), ("Active", "integer"),
                 ("Last Schedule", "string")], [], _cron),
    "Service": ([("Type", "string"), ("Cluster-IP", "string"), ("External-IP", "string"), ("Port(s)", "string")],
                [("Selector", "string")], _svc),
    "Namespace": ([("Status", "string")], [], lambda n: ([(n.get("status") or {}).get("phase", "Active")], [])),
    "Node": ([("Status", "string"), ("Roles", "string"), ("Age", "string"), ("Version", "string")], [], _node),
    "ConfigMap": ([("Data", "integer")], [], lambda c: ([len(c.get("data") or {}) + len(c.get("binaryData") or {})], [])),
    "Secret": ([("Type", "string"), ("Data", "integer")], [],
               lambda s: ([s.get("type", "Opaque"), len(s.get("data") or {})], [])),
    "PersistentVolumeClaim": ([("Status", "string"), ("Volume", "string"), ("Capacity", "string"),
                               ("Access Modes", "string"), ("StorageClass", "string"),
                               ("VolumeAttributesClass", "string")], [], _pvc),
    "StorageClass": ([("Provisioner", "string"), ("ReclaimPolicy", "string"), ("VolumeBindingMode", "string"),
                      ("AllowVolumeExpansion", "string")], [],
                     lambda s: ([s.get("provisioner", ""), s.get("reclaimPolicy", "Delete"),
                                 s.get("volumeBindingMode", "Immediate"), str(s.get("allowVolumeExpansion", False)).lower()], [])),
}


def _jsonpath(obj, path):
    node = obj
    for part in path.strip().lstrip(".").split("."):
        if not part:
            continue
        if isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def table(res, objects, crd_columns=None, include="Metadata", rv=""):
    """A Table for a list of stored objects of one resource."""
    columns = [NAME]
    extra = None
    if res.kind == "Event" and res.group == "":
        columns = [("Last Seen", "string", "", 0), ("Type", "string", "", 0), ("Reason", "string", "", 0),
                   ("Object", "string", "", 0), ("Message", "string", "", 0)]
        rows = []
        for obj in objects:
            cells = [_since(obj.get("lastTimestamp") or obj["metadata"].get("creationTimestamp"))] + _event(obj)[0]
            rows.append(_row(cells, obj, include))
        return _table(columns, rows, rv)
    if res.kind == "CustomResourceDefinition":
        columns = [NAME, ("Created At", "date", "", 0)]
        return _table(columns, [_row([o["metadata"]["name"], o["metadata"].get("creationTimestamp")], o, include)
                                for o in objects], rv)
    if not res.builtin and crd_columns:
        for col in crd_columns:
            columns.append((col.get("name"), col.get("type", "string"), col.get("format", ""), col.get("priority", 0)))
        has_age = any(c.get("name", "").lower() == "age" for c in crd_columns)
        if not has_age:
            columns.append(AGE)
        rows = []
        for obj in objects:
            cells = [obj["metadata"]["name"]]
            for col in crd_columns:
                value = _jsonpath(obj, col.get("jsonPath", ""))
                if col.get("type") == "date" and value:
                    value = _since(value)
                cells.append(value)
            if not has_age:
                cells.append(_since(obj["metadata"].get("creationTimestamp")))
            rows.append(_row(cells, obj, include))
        return _table(columns, rows, rv)
    if res.builtin and res.kind in COLUMNS:
        main, wide, extra = COLUMNS[res.kind]
        for name, ctype in main:
            columns.append((name, ctype, "", 0))
        if res.kind != "Node":
            columns.append(AGE)
        for name, ctype in wide:
            columns.append((name, ctype, "", 1))
    else:
        columns.append(AGE)
    rows = []
    for obj in objects:
        age = _since(obj["metadata"].get("creationTimestamp"))
        if extra is None:
            cells = [obj["metadata"]["name"], age]
        else:
            main_cells, wide_cells = extra(obj)
            if res.kind == "Node":
                main_cells = [age if c is None else c for c in main_cells]
                cells = [obj["metadata"]["name"]] + main_cells
            else:
                cells = [obj["metadata"]["name"]] + main_cells + [age] + wide_cells
        rows.append(_row(cells, obj, include))
    return _table(columns, rows, rv)


def _row(cells, obj, include):
    row = {"cells": cells}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": {k: v for k, v in obj["metadata"].items() if k != "managedFields"}}
    return row


def _table(columns, rows, rv):
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": [{"name": n, "type": t, "format": f, "description": "", "priority": p}
                                  for n, t, f, p in columns],
            "rows": rows}
