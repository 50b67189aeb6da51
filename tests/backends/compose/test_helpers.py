"""The compose backend's pure helpers, on the data the engine and
docker-compose 1.29 really produce (shapes copied from this machine's runs)."""

import http.server
import json
import socketserver
import threading

import pytest

from hook_kubectl.backends import compose
from hook_kubectl.errors import InputError

# docker-compose 1.29.2 output for two services with missing images.
MISSING_IMAGES = """\
Creating network "cmpmiss_default" with the default driver
Pulling gone (localhost/heat-kubectl-nonexistent:test)...
Creating cmpmiss_gone_1  ... error

ERROR: for cmpmiss_gone_1  Cannot create container for service gone: no such image: localhost/heat-kubectl-nonexistent:test: image not known

ERROR: for gone  Cannot create container for service gone: no such image: localhost/heat-kubectl-nonexistent:test: image not known
Encountered errors while bringing up the project.
"""


def test_compose_error_names_the_service_once():
    error = compose._compose_error(MISSING_IMAGES, "up", 1, "cmpmiss")
    assert error == ("service gone: Cannot create container for service gone: no such "
                     "image: localhost/heat-kubectl-nonexistent:test: image not known")


def test_compose_error_without_per_service_lines_gives_the_last_line():
    output = "ERROR: The Compose file './docker-compose.yml' is invalid because:\n" \
             "services.a.ports contains an invalid type\n"
    assert compose._compose_error(output, "config", 1, "p") == (
        "compose config failed (exit code 1): services.a.ports contains an invalid type")


def test_demultiplex_docker_log_frames():
    frames = b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n" + b"\x02\x00\x00\x00\x00\x00\x00\x04err\n"
    assert compose._demultiplex(frames) == "hello\nerr\n"
    assert compose._demultiplex(b"plain tty output\n") == "plain tty output\n"


def test_timestamps_with_nanoseconds_and_zero_times():
    assert compose._timestamp("2026-11-30T05:05:59.885103912Z") == pytest.approx(
        1796015159.885104, abs=1e-3)
    assert compose._timestamp("2026-11-30T05:05:59Z") == pytest.approx(1796015159.0)
    assert compose._timestamp("") == 0.0
    assert compose._timestamp("garbage") == 0.0


def test_env_file_from_a_map_and_from_text_records_secrets():
    secrets = set()
    text = compose._env_file_text("input e", {"A": "value-a", "N": 5, "B": True, "E": None},
                                  secrets)
    assert text == "A=value-a\nN=5\nB=true\nE=\n"
    assert "value-a" in secrets and "5" not in secrets  # under 4 characters
    text = compose._env_file_text("input e", "# comment\nPASSWORD=hunter22", secrets)
    assert text == "# comment\nPASSWORD=hunter22\n"
    assert "hunter22" in secrets


def test_env_files_bundle_forms():
    assert compose._env_files_bundle(
        [{"file_name": "./a.env", "content": "A=1"}]) == {"a.env": "A=1"}
    assert compose._env_files_bundle({"dir/b.env": "B=2"}) == {"dir/b.env": "B=2"}
    for bad in ([{"file_name": "/etc/passwd", "content": ""}],
                {"../up.env": ""}, {"docker-compose.yml": ""}, "text"):
        with pytest.raises(InputError, match="input env_files"):
            compose._env_files_bundle(bad)


def test_podman_healthcheck_rewrite_only_when_an_argument_has_spaces():
    spec = {"services": {
        "a": {"healthcheck": {"test": ["CMD", "sh", "-c", "exit 1"], "interval": "1s"}},
        "b": {"healthcheck": {"test": ["CMD", "true"]}},
        "c": {"healthcheck": {"test": "wget -q localhost"}}}}
    notes = compose._podman_healthchecks(spec)
    assert spec["services"]["a"]["healthcheck"] == {
        "test": ["CMD-SHELL", "sh -c 'exit 1'"], "interval": "1s"}
    assert spec["services"]["b"]["healthcheck"]["test"] == ["CMD", "true"]
    assert spec["services"]["c"]["healthcheck"]["test"] == "wget -q localhost"
    assert len(notes) == 1 and "services.a.healthcheck" in notes[0]


def test_enabled_services_skip_profiles_and_zero_scale():
    spec = {"services": {"a": {}, "b": {"profiles": ["debug"]}, "c": {"scale": 0},
                         "d": {"deploy": {"replicas": 0}}, "e": {"deploy": {"replicas": 2}}}}
    assert compose._enabled_services(spec) == ["a", "e"]


def test_docker_host_prefers_the_environment(tmp_path):
    assert compose.docker_host({"DOCKER_HOST": "tcp://127.0.0.1:2375"}) == "tcp://127.0.0.1:2375"
    assert compose.docker_host({}).startswith("unix://")



class _Answer500(http.server.BaseHTTPRequestHandler):
    """Answers every request as podman 4.3 answered an inspect racing a
    removal (seen in this suite): 500, 'does not exist in database'."""

    message = ""

    def do_GET(self):
        body = json.dumps({"cause": "no such container", "message": self.message,
                           "response": 500}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("local", 0)


@pytest.mark.parametrize("message, gone", [
    ("container 1234 does not exist in database: no such container", True),
    ("something else broke", False),
])
def test_inspect_racing_a_removal_is_gone_not_an_error(tmp_path, message, gone):
    handler = type("Handler", (_Answer500,), {"message": message})
    path = str(tmp_path / "engine.sock")
    server = _UnixHTTPServer(path, handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        engine = compose.Engine(f"unix://{path}")
        if gone:
            assert engine.inspect("1234") is None
        else:
            with pytest.raises(compose.EngineError, match="something else broke"):
                engine.inspect("1234")
    finally:
        server.shutdown()
        server.server_close()


def test_inspect_of_an_unknown_container_on_podman_is_none(docker_api):
    engine = compose.Engine(docker_api["DOCKER_HOST"])
    assert engine.inspect("0" * 64) is None
    assert engine.containers({"com.docker.compose.project": "no-such-project-xyz"}) == []
