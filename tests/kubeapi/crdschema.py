"""Custom resources against their CRD's structural schema, as the API server treats them:
fields the schema does not declare are pruned (unless x-kubernetes-preserve-unknown-fields),
and values of the wrong type, missing required fields and values outside an enum are 422.
Only the common keywords are checked: type, properties, additionalProperties, items,
required, enum, minimum, maximum, x-kubernetes-preserve-unknown-fields."""

import json

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def _type_ok(value, expected):
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    wanted = TYPES.get(expected)
    return wanted is None or isinstance(value, wanted)


def _go(value):
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return f'"{type(value).__name__}"'
    return str(value)


def check(obj, schema):
    """(unknown field paths, causes) for a custom resource; prunes unknown fields in place.
    causes: [(field, reason, message)] as admission.Invalid takes them."""
    unknown, causes = [], []
    for key in list(obj):
        if key in ("apiVersion", "kind", "metadata"):
            continue
        props = schema.get("properties") or {}
        if key in props:
            _walk(obj[key], props[key], key, unknown, causes)
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            unknown.append(key)
            del obj[key]
    for name in schema.get("required") or []:
        if name not in obj:
            causes.append((name, "FieldValueRequired", "Required value"))
    return unknown, causes


def _walk(value, schema, path, unknown, causes):
    expected = schema.get("type")
    if value is None and schema.get("nullable"):
        return
    if expected and not _type_ok(value, expected):
        causes.append((path, "FieldValueTypeInvalid",
                       f"Invalid value: {_go(value)}: {path} in body must be of type {expected}: {_go(value)}"))
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_go(v) for v in schema["enum"])
        causes.append((path, "FieldValueNotSupported",
                       f"Unsupported value: {_go(value)}: supported values: {allowed}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            causes.append((path, "FieldValueInvalid", f"Invalid value: {value}: {path} in body should be "
                                                      f"greater than or equal to {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            causes.append((path, "FieldValueInvalid", f"Invalid value: {value}: {path} in body should be "
                                                      f"less than or equal to {schema['maximum']}"))
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        keep_all = extra is True or schema.get("x-kubernetes-preserve-unknown-fields") or \
            (expected != "object" and not props)
        for key in list(value):
            sub = f"{path}.{key}"
            if key in props:
                _walk(value[key], props[key], sub, unknown, causes)
            elif isinstance(extra, dict):
                _walk(value[key], extra, sub, unknown, causes)
            elif not keep_all:
                unknown.append(sub)
                del value[key]
        for name in schema.get("required") or []:
            if name not in value:
                causes.append((f"{path}.{name}", "FieldValueRequired", "Required value"))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk(item, schema["items"], f"{path}[{i}]", unknown, causes)
