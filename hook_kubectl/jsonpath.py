"""The part of kubectl's JSONPath that outputs need, without dependencies.

Supported: ``{.a.b}`` (braces optional), ``.a[0]``, ``.a[-1]``, ``.a[*].b``,
``['key.with.dots']``, ``a\\.b`` (escaped dot) and filters
``[?(@.type=="Ready")]`` with ``==`` / ``!=`` against a string, number,
true/false/null, or ``[?(@.field)]`` for presence.
"""

import json
import re

from hook_kubectl.errors import InputError

_FILTER = re.compile(
    r"""^\?\(@((?:\.[^=!\s)]+)*)\s*(?:(==|!=)\s*('(?:[^']*)'|"(?:[^"]*)"|[-\w.]+))?\s*\)$""")


def parse(expression: str) -> list:
    """Expression -> list of steps: ("key", str) | ("index", int) | ("all",)
    | ("filter", path, op, value)."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    if not text or text == ".":
        return []
    steps, i = [], 0
    while i < len(text):
        char = text[i]
        if char == ".":
            i += 1
            name, i = _read_name(text, i, expression)
            steps.append(("key", name))
        elif char == "[":
            end = _closing_bracket(text, i, expression)
            steps.append(_bracket(text[i + 1:end], expression))
            i = end + 1
        elif i == 0:
            name, i = _read_name(text, i, expression)
            steps.append(("key", name))
        else:
            raise InputError(f"JSONPath {expression!r}: unexpected {char!r} at {i}")
    return steps


def find(obj, expression: str) -> list:
    """Every value the expression matches in obj (maybe none)."""
    current = [obj]
    for step in parse(expression):
        current = [found for value in current for found in _step(value, step)]
    return current


def _read_name(text: str, i: int, expression: str):
    name = []
    while i < len(text) and text[i] not in ".[":
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        name.append(text[i])
        i += 1
    if not name:
        raise InputError(f"JSONPath {expression!r}: empty field name")
    return "".join(name), i


def _closing_bracket(text: str, start: int, expression: str) -> int:
    depth, quote = 0, None
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0:
                return i
    raise InputError(f"JSONPath {expression!r}: unclosed '['")


def _bracket(inner: str, expression: str):
    inner = inner.strip()
    if inner == "*":
        return ("all",)
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return ("key", inner[1:-1])
    if re.fullmatch(r"-?\d+", inner):
        return ("index", int(inner))
    match = _FILTER.match(inner)
    if match:
        path, op, raw = match.groups()
        path_steps = parse(path) if path else []
        return ("filter", path_steps, op, _literal(raw) if op else None)
    raise InputError(f"JSONPath {expression!r}: cannot read [{inner}]")


def _literal(raw: str):
    if raw[0] in "'\"":
        return raw[1:-1]
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _step(value, step) -> list:
    kind = step[0]
    if kind == "key":
        return [value[step[1]]] if isinstance(value, dict) and step[1] in value else []
    if kind == "index":
        if isinstance(value, list) and -len(value) <= step[1] < len(value):
            return [value[step[1]]]
        return []
    if kind == "all":
        if isinstance(value, list):
            return list(value)
        if isinstance(value, dict):
            return list(value.values())
        return []
    _, path, op, expected = step
    items = value if isinstance(value, list) else []
    matched = []
    for item in items:
        found = [item]
        for sub in path:
            found = [f for v in found for f in _step(v, sub)]
        if op is None:
            keep = bool(found)
        elif op == "==":
            keep = any(_equal(f, expected) for f in found)
        else:
            keep = not any(_equal(f, expected) for f in found)
        if keep:
            matched.append(item)
    return matched


def _equal(found, expected) -> bool:
    if isinstance(found, (int, float)) and not isinstance(found, bool) and isinstance(expected, str):
        try:
            return float(expected) == found
        except ValueError:
            return False
    return found == expected
