"""Decode the protobuf request bodies kubectl's typed clients send for a few kinds.

client-go's core clients encode built-in objects as protobuf
("application/vnd.kubernetes.protobuf": the magic b"k8s\\x00" then a runtime.Unknown
{typeMeta=1 {apiVersion=1, kind=2}, raw=2, contentEncoding=3, contentType=4}). kubectl
uses them in `kubectl create namespace|configmap|secret|serviceaccount|deployment|job|
cronjob|service` and `kubectl expose`. Those kinds are decoded here (the fields those
commands set) with their field numbers from k8s.io/api's generated.proto; any other kind
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
LABEL_SELECTOR = {1: ("matchLabels", ("map", "string")),
                  2: ("matchExpressions", ("list", {1: ("key", "string"), 2: ("operator", "string"),
                                                    3: ("values", ("list", "string"))}))}
INT_OR_STRING = "intorstring"
CONTAINER = {1: ("name", "string"), 2: ("image", "string"), 3: ("command", ("list", "string")),
             4: ("args", ("list", "string")), 5: ("workingDir", "string"),
             6: ("ports", ("list", {1: ("name", "string"), 2: ("hostPort", "int"),
                                    3: ("containerPort", "int"), 4: ("protocol", "string")})),
             7: ("env", ("list", {1: ("name", "string"), 2: ("value", "string")})),
             8: ("resources", {}), 14: ("imagePullPolicy", "string")}
POD_SPEC = {2: ("containers", ("list", CONTAINER)), 3: ("restartPolicy", "string"),
            4: ("terminationGracePeriodSeconds", "int"), 6: ("dnsPolicy", "string"),
            7: ("nodeSelector", ("map", "string")), 8: ("serviceAccountName", "string")}
POD_TEMPLATE = {1: ("metadata", OBJECT_META), 2: ("spec", POD_SPEC)}
JOB_SPEC = {1: ("parallelism", "int"), 2: ("completions", "int"), 3: ("activeDeadlineSeconds", "int"),
            4: ("selector", LABEL_SELECTOR), 6: ("template", POD_TEMPLATE), 7: ("backoffLimit", "int"),
            10: ("suspend", "bool")}
SCHEMAS = {
    ("apps/v1", "Deployment"): {1: ("metadata", OBJECT_META), 2: ("spec", {
        1: ("replicas", "int"), 2: ("selector", LABEL_SELECTOR), 3: ("template", POD_TEMPLATE),
        4: ("strategy", {1: ("type", "string")}), 5: ("minReadySeconds", "int"),
        6: ("revisionHistoryLimit", "int"), 7: ("paused", "bool"), 9: ("progressDeadlineSeconds", "int")})},
    ("batch/v1", "Job"): {1: ("metadata", OBJECT_META), 2: ("spec", JOB_SPEC)},
    ("batch/v1", "CronJob"): {1: ("metadata", OBJECT_META), 2: ("spec", {
        1: ("schedule", "string"), 3: ("concurrencyPolicy", "string"), 4: ("suspend", "bool"),
        5: ("jobTemplate", {1: ("metadata", OBJECT_META), 2: ("spec", JOB_SPEC)}),
        6: ("successfulJobsHistoryLimit", "int"), 7: ("failedJobsHistoryLimit", "int"),
        8: ("timeZone", "string")})},
    ("v1", "Service"): {1: ("metadata", OBJECT_META), 2: ("spec", {
        1: ("ports", ("list", {1: ("name", "string"), 2: ("protocol", "string"), 3: ("port", "int"),
                               4: ("targetPort", INT_OR_STRING), 5: ("nodePort", "int")})),
        2: ("selector", ("map", "string")), 3: ("clusterIP", "string"), 4: ("type", "string"),
        10: ("externalName", "string")})},
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
    if kind == INT_OR_STRING:       # {type=1 (0 int, 1 string), intVal=2, strVal=3}
        fields = {n: v for n, _, v in _fields(value)}
        return fields[3].decode() if fields.get(1) == 1 else fields.get(2, 0)
    if kind == TIME:
        seconds = dict((n, v) for n, _, v in _fields(value)).get(1, 0)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
    return _message(kind, value)


# Optional (pointer) fields: their zero value is meaningful. Other fields are always
# encoded by Go's gogo-protobuf, zero or not, and JSON omits them when zero.
POINTER_FIELDS = {"replicas", "revisionHistoryLimit", "progressDeadlineSeconds",
                  "terminationGracePeriodSeconds", "activeDeadlineSeconds", "backoffLimit",
                  "completions", "parallelism", "successfulJobsHistoryLimit",
                  "failedJobsHistoryLimit", "deletionGracePeriodSeconds", "suspend", "immutable",
                  "automountServiceAccountToken"}
KEEP_EMPTY = {"resources"}
EPOCH = "1970-01-01T00:00:00Z"


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
            decoded = _scalar(kind, value)
            if name not in POINTER_FIELDS and name not in KEEP_EMPTY and \
                    decoded in ("", 0, False, {}, EPOCH) and decoded is not True:
                continue
            out[name] = decoded
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
