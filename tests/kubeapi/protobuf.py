"""Decode the protobuf request bodies kubectl's typed clients send for a few kinds.

client-go's core clients encode built-in objects as protobuf
("application/vnd.kubernetes.protobuf": the magic b"k8s\\x00" then a runtime.Unknown
{typeMeta=1 {apiVersion=1, kind=2}, raw=2, contentEncoding=3, contentType=4}). kubectl
uses them in `kubectl create namespace|configmap|secret|serviceaccount`. Those kinds are
decoded here with their field numbers from k8s.io/api's generated.proto; any other kind
gets 415 (responses are always JSON, which client-go accepts).
"""

import base64
import time

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

OWNER_REF = {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
             5: ("apiVersion", "string"), 6: ("controller", "bool"),
             7: ("blockOwnerDeletion", "bool")}
TIME = "time"
OBJECT_META = {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
               5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
               8: ("creationTimestamp", TIME), 9: ("deletionTimestamp", TIME),
               10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", ("map", "string")),
               12: ("annotations", ("map", "string")), 13: ("ownerReferences", ("list", OWNER_REF)),
               14: ("finalizers", ("list", "string"))}
SCHEMAS = {
    ("v1", "Namespace"): {1: ("metadata", OBJECT_META),
                          2: ("spec", {1: ("finalizers", ("list", "string"))}),
                          3: ("status", {1: ("phase", "string")})},
    ("v1", "ConfigMap"): {1: ("metadata", OBJECT_META), 2: ("data", ("map", "string")),
                          3: ("binaryData", ("map", "bytes")), 4: ("immutable", "bool")},
    ("v1", "Secret"): {1: ("metadata", OBJECT_META), 2: ("data", ("map", "bytes")),
                       3: ("type", "string"), 4: ("stringData", ("map", "string")),
                       5: ("immutable", "bool")},
    ("v1", "ServiceAccount"): {1: ("metadata", OBJECT_META),
                               3: ("imagePullSecrets", ("list", {1: ("name", "string")})),
                               4: ("automountServiceAccountToken", "bool")},
}


class Unsupported(Exception):
    pass


def _varint(data, pos):
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data):
    """Yield (number, wire type, value) of a protobuf message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise Unsupported(f"protobuf wire type {wire}")
        yield number, wire, value


def _scalar(kind, value):
    if kind == "string":
        return value.decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return value
    if kind == TIME:
        seconds = dict((n, v) for n, _, v in _fields(value)).get(1, 0)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    return _message(kind, value)


def _message(schema, data):
    out = {}
    for number, _, value in _fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if isinstance(kind, tuple) and kind[0] == "map":
            entry = {n: v for n, _, v in _fields(value)}
            out.setdefault(name, {})[_scalar("string", entry.get(1, b""))] = \
                _scalar(kind[1], entry.get(2, b""))
        elif isinstance(kind, tuple) and kind[0] == "list":
            out.setdefault(name, []).append(_scalar(kind[1], value))
        else:
            out[name] = _scalar(kind, value)
    return out


def decode(body):
    """A protobuf-encoded object -> JSON-style dict. Raises Unsupported."""
    if not body.startswith(MAGIC):
        raise Unsupported("missing the k8s protobuf magic number")
    unknown = {n: v for n, _, v in _fields(body[len(MAGIC):])}
    type_meta = {n: v.decode() for n, _, v in _fields(unknown.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    schema = SCHEMAS.get((api_version, kind))
    if schema is None:
        raise Unsupported(f"protobuf bodies for {api_version}/{kind} are not supported by the "
                          f"test API server; send JSON")
    obj = _message(schema, unknown.get(2, b""))
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj
