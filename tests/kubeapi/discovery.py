"""Discovery documents (legacy and aggregated) and the OpenAPI documents kubectl reads.

kubectl asks /api and /apis with an Accept header that prefers the aggregated form
(apidiscovery.k8s.io/v2 APIGroupDiscoveryList) and falls back to the legacy
APIGroupList + one APIResourceList per group version. Both are served.

OpenAPI: kubectl's default --validate=strict checks /openapi/v3 for a PATCH
operation of the kind that lists the `fieldValidation` query parameter; when found it
leaves validation to the server (which accepts unknown fields: no schemas are kept).
No component schemas are served, so client-side apply and diff fall back to the
patch metadata compiled into kubectl for built-in kinds (and merge patches for CRs),
exactly as they do against a server without OpenAPI schemas.
"""

import hashlib
import json

SERVER_VERSION = {"major": "1", "minor": "36", "emulationMajor": "1", "emulationMinor": "36",
                  "minCompatibilityMajor": "1", "minCompatibilityMinor": "35",
                  "gitVersion": "v1.36.0", "gitCommit": "0000000000000000000000000000000000000000",
                  "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                  "goVersion": "go1.25.0", "compiler": "gc", "platform": "linux/amd64"}

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
SUB_VERBS = ["get", "patch", "update"]


def wants_aggregated(accept):
    """The aggregated content type the client prefers, or None."""
    for part in (accept or "").split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                  for p in part.split(";")[1:] if "=" in p}
        if params.get("as") == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io":
            if params.get("v") == "v2":
                return AGGREGATED_V2, "apidiscovery.k8s.io/v2"
            if params.get("v") == "v2beta1":
                return AGGREGATED_V2BETA1, "apidiscovery.k8s.io/v2beta1"
    return None


def version():
    return dict(SERVER_VERSION)


def api_versions(address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def _group_entry(group, versions):
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(registry):
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(g, vs) for g, vs in registry.groups()]}


def api_group(registry, group):
    for g, versions in registry.groups():
        if g == group:
            return dict(_group_entry(g, versions), kind="APIGroup", apiVersion="v1")
    return None


def _hash(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def resource_list(registry, group, version):
    resources = registry.in_version(group, version)
    if not resources:
        return None
    out = []
    for res in resources:
        entry = {"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced,
                 "kind": res.kind, "verbs": res.verbs}
        if res.short_names:
            entry["shortNames"] = res.short_names
        if res.categories:
            entry["categories"] = res.categories
        entry["storageVersionHash"] = _hash(res.api_version + res.kind)[:12]
        out.append(entry)
        for sub in res.subresources:
            sub_entry = {"name": f"{res.plural}/{sub}", "singularName": "",
                         "namespaced": res.namespaced, "kind": res.kind,
                         "verbs": ["get"] if sub == "log" else SUB_VERBS}
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1", kind="Scale")
            out.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


def _discovery_resource(res):
    entry = {"resource": res.plural,
             "responseKind": {"group": res.group, "version": res.version, "kind": res.kind},
             "scope": "Namespaced" if res.namespaced else "Cluster",
             "singularResource": res.singular, "verbs": res.verbs}
    if res.short_names:
        entry["shortNames"] = res.short_names
    if res.categories:
        entry["categories"] = res.categories
    subs = []
    for sub in res.subresources:
        kind = {"group": "autoscaling", "version": "v1", "kind": "Scale"} if sub == "scale" else \
            {"group": res.group, "version": res.version, "kind": res.kind}
        subs.append({"subresource": sub, "responseKind": kind,
                     "verbs": ["get"] if sub == "log" else SUB_VERBS})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(registry, core, api_version):
    """APIGroupDiscoveryList for /api (core=True) or /apis."""
    items = []
    groups = [("", ["v1"])] if core else registry.groups()
    for group, versions in groups:
        item = {"metadata": {"name": group, "creationTimestamp": None} if group else
                {"creationTimestamp": None}, "versions": []}
        for v in versions:
            item["versions"].append({"version": v, "resources": [
                _discovery_resource(r) for r in registry.in_version(group, v)], "freshness": "Current"})
        items.append(item)
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {},
            "items": items}


# -- OpenAPI ------------------------------------------------------------------------------

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def _proto_field(number, payload):
    """A length-delimited protobuf field (wire type 2); payloads here are < 128 bytes."""
    return bytes([number << 3 | 2, len(payload)]) + payload


def openapi_v2(accept):
    """A swagger 2.0 document with no definitions: clients that validate against it
    skip kinds it does not describe. client-go asks for the gnostic protobuf form
    (openapi_v2.Document: swagger=1, info=2 {title=1, version=2}, paths=8)."""
    version = SERVER_VERSION["gitVersion"]
    if OPENAPI_V2_PROTOBUF in (accept or ""):
        info = _proto_field(1, b"Kubernetes") + _proto_field(2, version.encode())
        body = _proto_field(1, b"2.0") + _proto_field(2, info) + _proto_field(8, b"")
        # (the response names the type without '@', which Go's mime parser rejects)
        return body, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": version},
            "paths": {}, "definitions": {}}, "application/json"


def _gv_path(group, version):
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_index(registry):
    paths = {}
    gvs = [("", "v1")] + [(g, v) for g, vs in registry.groups() for v in vs]
    for group, version in gvs:
        doc = openapi_v3_document(registry, group, version)
        paths[_gv_path(group, version)] = {
            "serverRelativeURL": f"/openapi/v3/{_gv_path(group, version)}?hash="
                                 f"{_hash(json.dumps(doc, sort_keys=True)).upper()}"}
    return {"paths": paths}


def _param(name, where="query", required=False):
    p = {"name": name, "in": where, "schema": {"type": "string", "uniqueItems": True}}
    if required:
        p["required"] = True
    return p


def _op(res, action, params=()):
    return {"tags": [res.group or "core"], "operationId": f"{action}{res.kind}",
            "parameters": [_param(p) for p in params],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object"}}}}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": {"group": res.group, "version": res.version,
                                                "kind": res.kind}}


def openapi_v3_document(registry, group, version):
    resources = registry.in_version(group, version)
    if not resources and not (group == "" and version == "v1"):
        return None
    prefix = "/" + _gv_path(group, version)
    paths = {}
    write = ("dryRun", "fieldManager", "fieldValidation")
    for res in resources:
        base = prefix + ("/namespaces/{namespace}/" if res.namespaced else "/") + res.plural
        paths[base] = {"get": _op(res, "list", ("labelSelector", "fieldSelector", "limit",
                                                 "continue", "watch", "resourceVersion")),
                       "post": _op(res, "post", write),
                       "delete": _op(res, "deletecollection", ("labelSelector",)),
                       "parameters": [_param("namespace", "path", True)] if res.namespaced else []}
        item = base + "/{name}"
        paths[item] = {"get": _op(res, "get"), "put": _op(res, "put", write),
                       "patch": _op(res, "patch", write + ("force",)),
                       "delete": _op(res, "delete", ("dryRun", "gracePeriodSeconds",
                                                     "propagationPolicy")),
                       "parameters": [_param("name", "path", True)] +
                       ([_param("namespace", "path", True)] if res.namespaced else [])}
        for sub in res.subresources:
            if sub == "log":
                continue
            paths[item + "/" + sub] = {"get": _op(res, "get"), "put": _op(res, "put", write),
                                       "patch": _op(res, "patch", write + ("force",))}
            if sub == "scale":
                for op in paths[item + "/" + sub].values():
                    op["x-kubernetes-group-version-kind"] = {"group": "autoscaling",
                                                             "version": "v1", "kind": "Scale"}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}
