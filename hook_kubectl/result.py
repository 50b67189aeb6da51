"""Stage 6: the one JSON object the agent signals to Heat.

heat-config-notify crashes on signals over 950,000 characters, so the whole
object is kept under MAX_CHARS by trimming the middle of the longest texts.
Secrets known to the run are masked in every text before it leaves.
"""

import json

MAX_CHARS = 900_000
MAX_LOG_CHARS = 200_000  # per text field, before the whole-object check
MASK = "<redacted>"


def trim(text: str, limit: int) -> str:
    """Keep the head and tail of `text`, saying how much was cut."""
    if len(text) <= limit:
        return text
    marker = "\n... [trimmed {} characters] ...\n"
    keep = max(0, limit - len(marker.format(len(text))))
    head = keep // 2
    tail = keep - head
    cut = len(text) - head - tail
    return text[:head] + marker.format(cut) + (text[-tail:] if tail else "")


def redact(text: str, secrets) -> str:
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


def build(deployment_outputs, status: int, stdout: str, stderr: str,
          values: dict = None, error: str = "", secrets=()) -> dict:
    """The signal: deploy_stdout, deploy_stderr, deploy_status_code and one
    key per declared output. An error_output output is present only on
    failure (Heat marks the deployment FAILED when it is present)."""
    values = values or {}
    result = {
        "deploy_stdout": trim(redact(stdout, secrets), MAX_LOG_CHARS),
        "deploy_stderr": trim(redact(stderr, secrets), MAX_LOG_CHARS),
        "deploy_status_code": status,
    }
    for output in deployment_outputs:
        if output.name in result:
            continue
        if output.error_output:
            if status != 0:
                result[output.name] = redact(error or "deployment failed", secrets)
        else:
            result[output.name] = values.get(output.name)
    return fit(result)


def fit(result: dict, limit: int = MAX_CHARS) -> dict:
    """Shrink the longest string values until the JSON is under `limit`."""
    size = len(to_json(result))
    while size > limit:
        key = max((k for k, v in result.items() if isinstance(v, str)),
                  key=lambda k: len(result[k]), default=None)
        if key is None or len(result[key]) < 100:
            # Large structured output values: replace them with a note.
            key = max((k for k in result if k not in ("deploy_status_code",)),
                      key=lambda k: len(to_json(result[k])))
            result[key] = f"[{key} removed: {len(to_json(result[key]))} characters is over the signal limit]"
        else:
            excess = size - limit + 200
            result[key] = trim(result[key], max(100, len(result[key]) - excess))
        size = len(to_json(result))
    return result


def to_json(result) -> str:
    return json.dumps(result, sort_keys=False)
