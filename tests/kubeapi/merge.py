"""Patches and field ownership.

- json_merge_patch (RFC 7386), json_patch (RFC 6902)
- strategic_merge_patch: kubectl's patch format for built-in kinds (merge keys,
  $patch, $setElementOrder, $retainKeys, $deleteFromPrimitiveList)
- server-side apply: managedFields in the FieldsV1 format ("f:", "k:", "v:", "."),
  conflicts between field managers, and ownership taken by plain updates.

Field sets are handled as Python sets of paths; a path is a tuple of FieldsV1
elements, e.g. ("f:spec", "f:template", "f:spec", "f:containers",
'k:{"name":"web"}', "f:image").
"""

import copy
import json
import time

# -- list semantics of the built-in kinds ---------------------------------------

# Associative lists (merge keys) of built-in kinds, by field name.
MERGE_KEYS = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
    "env": ("name",), "volumes": ("name",), "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",), "imagePullSecrets": ("name",), "conditions": ("type",),
    "ownerReferences": ("uid",), "hostAliases": ("ip",), "resourceClaims": ("name",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
}
SET_LISTS = {"finalizers"}        # lists of scalars merged as sets


def list_keys(name, items, builtin):
    """Merge keys of the list field `name`, or None when it is atomic."""
    if not builtin:
        return None
    if name == "ports":
        if any(isinstance(i, dict) and "containerPort" in i for i in items):
            return ("containerPort", "protocol")
        if any(isinstance(i, dict) and "port" in i for i in items):
            return ("port", "protocol")
        return None
    return MERGE_KEYS.get(name)


def smp_key(name, items, builtin):
    """Strategic merge patch uses a single merge key."""
    keys = list_keys(name, items, builtin)
    return keys[0] if keys else None


def _item_key(item, keys):
    out = {}
    for k in keys:
        if k in item:
            out[k] = item[k]
        elif k == "protocol":
            out[k] = "TCP"        # defaulted field that is part of the key
    return out


def key_element(item, keys):
    return "k:" + json.dumps(_item_key(item, keys), separators=(",", ":"), sort_keys=True)


def value_element(value):
    return "v:" + json.dumps(value, separators=(",", ":"))


# -- field sets -------------------------------------------------------------------

IGNORED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"}


def fields_of(obj, builtin, section=None):
    """Leaf paths of an object. section: None (all but status and identity),
    'status' (only status), 'all'."""
    out = set()
    for name, value in obj.items():
        if name in ("apiVersion", "kind"):
            continue
        if section == "status" and name != "status":
            continue
        if section is None and name == "status":
            continue
        if name == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in IGNORED_META}
            if meta:        # name/namespace alone are nobody's field
                _walk(meta, ("f:metadata",), builtin, out)
            continue
        _field(name, value, ("f:" + name,), builtin, out)
    return out


def _walk(mapping, prefix, builtin, out):
    if not mapping:
        out.add(prefix)
        return
    for name, value in mapping.items():
        _field(name, value, prefix + ("f:" + name,), builtin, out)


def _field(name, value, path, builtin, out):
    if isinstance(value, dict):
        _walk(value, path, builtin, out)
    elif isinstance(value, list) and value:
        keys = list_keys(name, value, builtin)
        if keys and all(isinstance(i, dict) for i in value):
            for item in value:
                ipath = path + (key_element(item, keys),)
                out.add(ipath + (".",))
                for k, v in item.items():
                    _field(k, v, ipath + ("f:" + k,), builtin, out)
        elif builtin and name in SET_LISTS:
            for item in value:
                out.add(path + (value_element(item),))
        else:
            out.add(path)
    else:
        out.add(path)


def to_fields_v1(paths):
    tree = {}
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    return tree


def from_fields_v1(tree, prefix=()):
    out = set()
    for element, sub in tree.items():
        path = prefix + (element,)
        if sub:
            out |= from_fields_v1(sub, path)
        else:
            out.add(path)
    return out


_MISSING = object()


def get_path(obj, path):
    """Value at a field path, or _MISSING."""
    node = obj
    for element in path:
        if element == ".":
            continue
        if element.startswith("f:"):
            if not isinstance(node, dict) or element[2:] not in node:
                return _MISSING
            node = node[element[2:]]
        elif element.startswith("k:"):
            want = json.loads(element[2:])
            if not isinstance(node, list):
                return _MISSING
            for item in node:
                if isinstance(item, dict) and _item_key(item, list(want)) == want:
                    node = item
                    break
            else:
                return _MISSING
        elif element.startswith("v:"):
            value = json.loads(element[2:])
            if not isinstance(node, list) or value not in node:
                return _MISSING
            node = value
        else:
            return _MISSING
    return node


def remove_path(obj, path):
    """Delete the field, list item or set value at path (if present)."""
    if path[-1] == ".":
        path = path[:-1]
    parent = get_path(obj, path[:-1])
    last = path[-1]
    if parent is _MISSING:
        return
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        want = json.loads(last[2:])
        parent[:] = [i for i in parent if not (isinstance(i, dict) and _item_key(i, list(want)) == want)]
    elif last.startswith("v:") and isinstance(parent, list):
        value = json.loads(last[2:])
        parent[:] = [i for i in parent if i != value]


def path_string(path):
    """'.spec.template.spec.containers[name="web"].image' as the API prints it."""
    out = ""
    for element in path:
        if element.startswith("f:"):
            out += "." + element[2:]
        elif element.startswith("k:"):
            key = json.loads(element[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]"
        elif element.startswith("v:"):
            out += "[=" + element[2:] + "]"
    return out


# -- server-side apply -------------------------------------------------------------

class ApplyConflict(Exception):
    def __init__(self, conflicts):
        super().__init__(conflicts)
        self.conflicts = conflicts      # [(manager description, path string)]


def describe_manager(entry):
    """How the API names a manager in conflict messages."""
    text = json.dumps(entry["manager"])
    if entry.get("subresource"):
        text += f' with subresource {json.dumps(entry["subresource"])}'
    if entry.get("operation") == "Update":
        text += f' using {entry.get("apiVersion", "")}'
    return text


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _entry(manager, operation, api_version, paths, subresource):
    entry = {"manager": manager, "operation": operation, "apiVersion": api_version,
             "time": now(), "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}
    if subresource:
        entry["subresource"] = subresource
    return entry


def apply(live, applied, manager, force, builtin, api_version, subresource=None):
    """Server-side apply of `applied` onto `live` (None when creating).
    Returns the merged object with updated managedFields; raises ApplyConflict."""
    section = "status" if subresource == "status" else None
    live = copy.deepcopy(live) if live is not None else {}
    managed = live.get("metadata", {}).get("managedFields") or []
    new_paths = fields_of(applied, builtin, section)
    sub = subresource or ""

    own, others = None, []
    for entry in managed:
        if entry["manager"] == manager and entry.get("operation") == "Apply" \
                and entry.get("subresource", "") == sub:
            own = entry
        else:
            others.append(entry)

    conflicts, conflict_paths = [], set()
    for entry in others:
        for path in sorted(new_paths & from_fields_v1(entry.get("fieldsV1", {}))):
            if path[-1] == ".":
                continue
            current = get_path(live, path)
            if current is not _MISSING and current != get_path(applied, path):
                conflicts.append((describe_manager(entry), path_string(path)))
                conflict_paths.add(path)
    if conflicts and not force:
        raise ApplyConflict(conflicts)

    still_owned = set()
    kept = []
    for entry in others:
        paths = from_fields_v1(entry.get("fieldsV1", {}))
        if force:
            paths -= conflict_paths
            entry = dict(entry, fieldsV1=to_fields_v1(paths))
        if paths:
            kept.append(entry)
            still_owned |= paths

    old_paths = from_fields_v1(own["fieldsV1"]) if own else set()
    result = live
    for path in sorted(old_paths - new_paths - still_owned, key=len, reverse=True):
        remove_path(result, path)
    merge_applied(result, applied, builtin)
    entry = _entry(manager, "Apply", api_version, new_paths, subresource)
    # Keep each manager where it was; a new one goes last.
    out, placed = [], False
    for e in managed:
        if e is own:
            out.append(entry)
            placed = True
            continue
        for k in kept:
            if k["manager"] == e["manager"] and k.get("operation") == e.get("operation") \
                    and k.get("subresource", "") == e.get("subresource", ""):
                out.append(k)
    if not placed:
        out.append(entry)
    result.setdefault("metadata", {})["managedFields"] = out
    return result


def merge_applied(target, applied, builtin, name=None):
    """Merge an apply configuration into target in place (maps recurse,
    associative lists merge by key, everything else is replaced)."""
    for key, value in applied.items():
        if key == "metadata" and name is None and isinstance(value, dict):
            meta = target.setdefault("metadata", {})
            for mk, mv in value.items():
                if mk in ("managedFields", "resourceVersion", "uid", "creationTimestamp",
                          "generation"):
                    continue
                _merge_value(meta, mk, mv, builtin)
            continue
        _merge_value(target, key, value, builtin)


def _merge_value(target, key, value, builtin):
    current = target.get(key)
    if isinstance(value, dict) and isinstance(current, dict):
        for k, v in value.items():
            _merge_value(current, k, v, builtin)
    elif isinstance(value, list) and isinstance(current, list):
        keys = list_keys(key, value + current, builtin)
        if keys and all(isinstance(i, dict) for i in value + current):
            merged = list(current)
            for item in value:
                want = _item_key(item, keys)
                for i, existing in enumerate(merged):
                    if _item_key(existing, keys) == want:
                        merged[i] = copy.deepcopy(existing)
                        for k, v in item.items():
                            _merge_value(merged[i], k, v, builtin)
                        break
                else:
                    merged.append(copy.deepcopy(item))
            target[key] = merged
        elif builtin and key in SET_LISTS:
            target[key] = current + [v for v in value if v not in current]
        else:
            target[key] = copy.deepcopy(value)
    else:
        target[key] = copy.deepcopy(value)


def record_update(old, new, manager, builtin, api_version, subresource=None, operation="Update",
                  managed=None):
    """Give `manager` the fields an update (create/put/patch) changed, taking
    them from other managers, as the API server does. Changes new in place.
    managed: the entries to start from (default: old's)."""
    section = "status" if subresource == "status" else None
    sub = subresource or ""
    old_paths = fields_of(old, builtin, section) if old else set()
    new_paths = fields_of(new, builtin, section)
    changed = {p for p in new_paths
               if p not in old_paths or get_path(old, p) != get_path(new, p)}
    if managed is None:
        managed = (old or {}).get("metadata", {}).get("managedFields") or []
    managed = copy.deepcopy(managed)
    out, own = [], None
    for entry in managed:
        paths = from_fields_v1(entry.get("fieldsV1", {}))
        if section == "status":
            paths = {p for p in paths if p[0] != "f:status"} | (paths & new_paths)
        else:
            paths = {p for p in paths if p[0] == "f:status"} | (paths & new_paths)
        if entry["manager"] == manager and entry.get("operation") == operation \
                and entry.get("subresource", "") == sub:
            own = entry
            paths |= changed
            entry.update(fieldsV1=to_fields_v1(paths), time=now(), apiVersion=api_version)
        else:
            paths -= changed
            entry["fieldsV1"] = to_fields_v1(paths)
        if paths:
            out.append(entry)
    if own is None and changed:
        out.append(_entry(manager, operation, api_version, changed, subresource))
    new.setdefault("metadata", {})["managedFields"] = out
    return new


# -- JSON merge patch and JSON patch --------------------------------------------------

def json_merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


class PatchError(Exception):
    pass


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc, parts):
    node = doc
    for part in parts:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node[part]
    return node


def json_patch(doc, operations):
    doc = copy.deepcopy(doc)
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    for op in operations:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind == "test":
                if _resolve(doc, parts) != op["value"]:
                    raise PatchError(f"testing value {op['path']} failed")
                continue
            if kind in ("move", "copy"):
                value = copy.deepcopy(_resolve(doc, _pointer(op["from"])))
                if kind == "move":
                    doc = _remove(doc, _pointer(op["from"]))
                doc = _add(doc, parts, value)
            elif kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif kind == "remove":
                doc = _remove(doc, parts)
            elif kind == "replace":
                doc = _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            else:
                raise PatchError(f"unknown JSON patch op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise PatchError(f"the server rejected our request due to an error in our request: "
                             f"{op}: {exc}") from None
    return doc


def _add(doc, parts, value):
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        parent[last] = value
    return doc


def _remove(doc, parts):
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        del parent[last]
    return doc


# -- strategic merge patch -----------------------------------------------------------

def strategic_merge_patch(original, patch, builtin=True):
    return _smp_map(copy.deepcopy(original) if original else {}, patch, builtin)


def _smp_map(target, patch, builtin):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    retain = patch.get("$retainKeys")
    orders = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(target.get(field), list):
                target[field] = [v for v in target[field] if v not in value]
            continue
        if key.startswith("$"):
            continue
        if value is None:
            target.pop(key, None)
            continue
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged = _smp_map(current, value, builtin)
            if merged is None:
                target.pop(key, None)
            else:
                target[key] = merged
        elif isinstance(value, list) and isinstance(current, list):
            target[key] = _smp_list(key, current, value, builtin)
        elif isinstance(value, dict):
            cleaned = _smp_map({}, value, builtin)
            if cleaned is not None:
                target[key] = cleaned
        elif isinstance(value, list):
            target[key] = _smp_list(key, [], value, builtin)
        else:
            target[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(target.get(field), list):
            target[field] = _reorder(field, target[field], order, builtin)
    if isinstance(retain, list):
        for key in list(target):
            if key not in retain:
                del target[key]
    return target


def _smp_list(name, current, patch, builtin):
    key = smp_key(name, patch + current, builtin)
    if key is None or not all(isinstance(i, dict) for i in patch + current):
        if builtin and name in SET_LISTS:
            return current + [v for v in patch if v not in current]
        for item in patch:
            if isinstance(item, dict) and item.get("$patch") == "replace":
                return []
        return [_smp_map({}, i, builtin) if isinstance(i, dict) else copy.deepcopy(i) for i in patch]
    merged = [copy.deepcopy(i) for i in current]
    for item in patch:
        if item.get("$patch") == "replace":
            return [copy.deepcopy(i) for i in patch if i.get("$patch") != "replace"]
        match = [i for i, existing in enumerate(merged) if existing.get(key) == item.get(key)]
        if item.get("$patch") == "delete":
            merged = [m for i, m in enumerate(merged) if i not in match]
        elif match:
            merged[match[0]] = _smp_map(merged[match[0]], item, builtin)
        else:
            merged.append(_smp_map({}, item, builtin))
    return merged


def _reorder(name, items, order, builtin):
    key = smp_key(name, items, builtin)
    if key is None:
        return items

    def rank(item):
        for i, o in enumerate(order):
            if isinstance(o, dict) and o.get(key) == item.get(key):
                return i
        return len(order)
    return sorted(items, key=rank)
