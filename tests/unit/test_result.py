import json

from hook_kubectl import result
from hook_kubectl.deployment import Output


def test_trim_keeps_head_and_tail_and_says_so():
    text = "HEAD" + "x" * 10_000 + "TAIL"
    out = result.trim(text, 500)
    assert len(out) <= 500
    assert out.startswith("HEAD") and out.endswith("TAIL")
    assert "trimmed" in out
    assert result.trim("short", 500) == "short"


def test_whole_signal_fits_under_the_notify_limit():
    huge = "line of log\n" * 400_000  # 4.8M characters
    data = result.build([Output("a"), Output("b")], 1, huge, huge, {"a": "v" * 2_000_000, "b": "ok"})
    text = result.to_json(data)
    assert len(text) < result.MAX_CHARS
    assert json.loads(text)["b"] == "ok"
    assert "trimmed" in data["deploy_stdout"] and "trimmed" in data["a"]


def test_escaped_characters_are_counted_as_sent():
    # Non-ASCII expands sixfold in JSON: the limit is on the JSON text.
    data = result.build([], 0, "\u00e9" * 1_000_000, "")
    assert len(result.to_json(data)) < result.MAX_CHARS


def test_large_structured_output_is_replaced_with_a_note():
    data = result.build([Output("big")], 0, "", "", {"big": [str(i) for i in range(300_000)]})
    assert len(result.to_json(data)) < result.MAX_CHARS
    assert "over the signal limit" in data["big"]


def test_error_output_only_present_on_failure():
    outputs = [Output("ip"), Output("why", error_output=True)]
    ok = result.build(outputs, 0, "fine", "", {"ip": "10.0.0.1"})
    assert ok == {"deploy_stdout": "fine", "deploy_stderr": "", "deploy_status_code": 0, "ip": "10.0.0.1"}
    failed = result.build(outputs, 1, "", "boom", error="Pod/web: ImagePullBackOff")
    assert failed["why"] == "Pod/web: ImagePullBackOff" and failed["ip"] is None


def test_secrets_are_masked_everywhere():
    data = result.build([Output("why", error_output=True)], 1, "pw=hunter22 ok", "token hunter22x",
                        error="bad hunter22", secrets={"hunter22", "hunter22x"})
    assert "hunter22" not in json.dumps(data)
    assert data["deploy_stderr"] == "token <redacted>"
