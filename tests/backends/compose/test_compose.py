"""The compose backend through hooks/kubectl, with real containers:
docker-compose 1.29 against podman's Docker API, the local busybox image."""

import json
import os
import shutil
import stat
import time

import pytest
import yaml

from tests.backends.compose.conftest import free_port, http_get

DB = {
    # Serves /ready only after 2 seconds: the healthcheck passes from then on.
    "command": ["sh", "-c", "mkdir -p /tmp/www; sleep 2; echo db-ok > /tmp/www/ready; "
                "exec httpd -f -p 8080 -h /tmp/www"],
    "healthcheck": {"test": ["CMD", "wget", "-q", "-O", "/dev/null",
                             "http://127.0.0.1:8080/ready"],
                    "interval": "1s", "timeout": "2s", "retries": 30},
    "stop_grace_period": "1s",
}


def web(port, extra_networks=()):
    # Fetches from db at start (by its service name): fails with exit code 7
    # unless compose started it after db was healthy, on a shared network.
    return {
        "command": ["sh", "-c", "wget -q -O /var/www/db.txt http://db:8080/ready || exit 7; "
                    "exec httpd -f -p 8080 -h /var/www"],
        "ports": [f"127.0.0.1:{port}:8080"],
        "depends_on": {"db": {"condition": "service_healthy"}},
        "networks": ["default", *extra_networks],
        "stop_grace_period": "1s",
    }


def sleeper(command="while :; do sleep 1; done"):
    return {"command": ["sh", "-c", f"trap 'exit 0' TERM; {command}"]}


def app(project, port, version=None, **services):
    compose = {} if version is None else {"version": version}
    compose["services"] = {
        "db": dict(DB, image=project.image),
        "web": dict(web(port, ["front"]), image=project.image),
    }
    for name, spec in services.items():
        compose["services"][name] = dict(spec, image=project.image)
    compose["networks"] = {"front": {}}
    return compose


def running(project):
    return sorted(name for name, c in project.containers().items() if c["State"] == "running")


def services_of(project, state="running"):
    return sorted(c["Labels"]["com.docker.compose.service"]
                  for c in project.containers().values() if c["State"] == state)


OUTPUTS = {
    "web_ip": "service/web:{.status.podIP}",
    "web_port": "service/web:{.status.ports[?(@.containerPort==8080)].hostPort}",
    "db_health": "service/db:{.status.health}",
    "front_ip": "service/web:{.status.networks.front.ip}",
    "db_state": "container/db:{.State.Status}",
}


def test_web_waits_for_healthy_db_and_outputs_resolve(new_project):
    project = new_project()
    port = free_port()
    started = time.monotonic()
    result, stderr, code = project.run(
        yaml.safe_dump(app(project, port)), options={"outputs": OUTPUTS},
        outputs=[{"name": name} for name in OUTPUTS])
    took = time.monotonic() - started
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert code == 0
    # web fetched db's page at start: it really started after db was healthy.
    assert http_get(port, "/db.txt").strip() == "db-ok"
    assert http_get(port, "/index.html").strip() == "hello from heat-config-kubectl"
    assert services_of(project) == ["db", "web"]
    stdout = result["deploy_stdout"]
    assert "service/db: created, ready" in stdout
    assert "service/web: created, ready" in stdout
    # Outputs, addressed as documented.
    assert result["web_port"] == port
    assert result["db_health"] == "healthy"
    assert result["db_state"] == "running"
    assert result["web_ip"].count(".") == 3 and result["front_ip"].count(".") == 3
    inspect = json.loads(project.podman("inspect", f"{project.project}_web_1").stdout)[0]
    ips = {n["IPAddress"] for n in inspect["NetworkSettings"]["Networks"].values()}
    assert {result["web_ip"], result["front_ip"]} <= ips
    # The project directory: 0700, files 0600, named by the deployment identity.
    directory = os.path.join(project.workdir, "compose", project.project)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for name in os.listdir(directory):
        assert stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode) == 0o600, name
    # Ownership labels on every container.
    for container in project.containers().values():
        assert container["Labels"]["app.kubernetes.io/managed-by"] == "heat-config-kubectl"
    print(f"two-service CREATE took {took:.1f}s")


def test_update_drops_a_service_and_reuses_the_project(new_project):
    project = new_project()
    port = free_port()
    first = app(project, port, worker=sleeper())
    result, stderr, _ = project.run(first)
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert services_of(project) == ["db", "web", "worker"]
    web_id = project.containers()[f"{project.project}_web_1"]["Id"]

    second = app(project, port)
    result, stderr, _ = project.run(second, action="UPDATE", config_id="cfg-2")
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert "service/worker: pruned" in result["deploy_stdout"]
    assert "service/web: unchanged, ready" in result["deploy_stdout"]
    assert services_of(project) == ["db", "web"]
    assert not [n for n in project.containers() if "worker" in n]
    # Same project, same web container: the update converged, nothing recreated.
    assert project.containers()[f"{project.project}_web_1"]["Id"] == web_id
    assert http_get(port, "/db.txt").strip() == "db-ok"

    # A changed service is recreated.
    third = app(project, port)
    third["services"]["web"]["environment"] = {"RELEASE": "2"}
    result, stderr, _ = project.run(third, action="UPDATE", config_id="cfg-3")
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert "service/web: configured, ready" in result["deploy_stdout"]
    assert project.containers()[f"{project.project}_web_1"]["Id"] != web_id


def test_delete_keeps_named_volumes_unless_asked_and_twice_is_fine(new_project):
    project = new_project()
    compose = {"services": {"data": dict(sleeper(), image=project.image,
                                         volumes=["store:/store"])},
               "volumes": {"store": {}}}
    result, stderr, _ = project.run(compose)
    assert result["deploy_status_code"] == 0, (result, stderr)
    volume = f"{project.project}_store"
    assert project.podman("volume", "exists", volume).returncode == 0

    result, stderr, _ = project.run(compose, action="DELETE")
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert "service/data: deleted" in result["deploy_stdout"]
    assert project.containers() == {}
    nets = project.podman("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [n for n in nets if n.startswith(project.project)]
    assert project.podman("volume", "exists", volume).returncode == 0, "named volume kept"
    assert not os.path.exists(os.path.join(project.workdir, "compose", project.project))

    # DELETE again: nothing there is a success.
    result, stderr, _ = project.run(compose, action="DELETE")
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert "nothing to delete" in result["deploy_stdout"]

    # Recreate, then DELETE with delete_volumes: the volume goes too.
    result, stderr, _ = project.run(compose)
    assert result["deploy_status_code"] == 0, (result, stderr)
    result, stderr, _ = project.run(compose, action="DELETE",
                                    options={"delete_volumes": True})
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert project.podman("volume", "exists", volume).returncode != 0


def test_delete_without_project_directory_still_removes_owned_containers(new_project):
    project = new_project()
    compose = {"services": {"a": dict(sleeper(), image=project.image),
                            "b": dict(sleeper(), image=project.image)}}
    result, stderr, _ = project.run(compose)
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert services_of(project) == ["a", "b"]
    shutil.rmtree(os.path.join(project.workdir, "compose"))  # node reinstalled, say
    # DELETE from Heat carries no config at all sometimes.
    result, stderr, _ = project.run(None, action="DELETE")
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert project.containers() == {}
    assert "service/a: deleted" in result["deploy_stdout"]


def test_missing_image_fails_fast_naming_the_service(new_project):
    project = new_project()
    compose = {"services": {
        "ok": dict(sleeper(), image=project.image),
        "broken": {"image": "localhost/heat-kubectl-no-such-image:missing"}}}
    started = time.monotonic()
    result, stderr, code = project.run(compose, options={"timeout": 120})
    took = time.monotonic() - started
    assert result["deploy_status_code"] == 1 and code == 1
    assert "service broken" in result["deploy_stderr"]
    assert "no such image" in result["deploy_stderr"].lower()
    assert "localhost/heat-kubectl-no-such-image:missing" in result["deploy_stderr"]
    assert "Traceback" not in result["deploy_stderr"]
    assert "service/broken: not created, NOT READY" in result["deploy_stdout"]
    assert took < 60, f"missing image took {took:.1f}s"


def test_service_that_exits_fails_early_with_code_and_logs(new_project):
    project = new_project()
    compose = {"services": {
        "ok": dict(sleeper(), image=project.image),
        "crash": {"image": project.image,
                  "command": ["sh", "-c",
                              "echo starting up; echo cannot open config >&2; exit 3"]}}}
    started = time.monotonic()
    result, stderr, code = project.run(compose, options={"timeout": 120})
    took = time.monotonic() - started
    assert result["deploy_status_code"] == 1 and code == 1
    err = result["deploy_stderr"]
    assert "service crash" in err and "exited with code 3" in err
    assert "cannot open config" in err and "starting up" in err
    assert "service/crash: created, NOT READY" in result["deploy_stdout"]
    assert took < 40, f"an exited container took {took:.1f}s to fail"


def test_dependency_that_exits_fails_early(new_project):
    """db exits before it is healthy, web waits on it: docker-compose 1.29
    does not notice; the hook must, long before the deadline."""
    project = new_project()
    compose = app(project, free_port())
    compose["services"]["db"]["command"] = ["sh", "-c", "echo db gave up; exit 4"]
    started = time.monotonic()
    result, stderr, _ = project.run(compose, options={"timeout": 120})
    took = time.monotonic() - started
    assert result["deploy_status_code"] == 1
    assert "service db" in result["deploy_stderr"]
    assert "exited with code 4" in result["deploy_stderr"]
    assert "db gave up" in result["deploy_stderr"]
    assert took < 40, took


def test_unhealthy_service_times_out_at_the_deadline(new_project):
    project = new_project()
    compose = {"services": {"sick": dict(
        sleeper(), image=project.image,
        healthcheck={"test": ["CMD", "sh", "-c", "echo not ready yet; exit 1"],
                     "interval": "1s", "retries": 2})}}
    started = time.monotonic()
    result, stderr, _ = project.run(compose, options={"timeout": 8})
    took = time.monotonic() - started
    assert result["deploy_status_code"] == 1
    assert "timed out after 8s" in result["deploy_stderr"]
    assert "service sick (health: unhealthy)" in result["deploy_stderr"]
    assert "not ready yet" in result["deploy_stderr"]
    # podman's Docker API would split this CMD at spaces and run `sh -c echo`
    # (always healthy): the hook ran it as CMD-SHELL and said so.
    assert "services.sick.healthcheck: run as CMD-SHELL" in result["deploy_stdout"]
    assert took < 20, took


def test_crash_loop_behind_a_restart_policy_fails_early(new_project):
    project = new_project()
    compose = {"services": {"flappy": {
        "image": project.image, "restart": "always",
        "command": ["sh", "-c", "echo flapping; sleep 0.3; exit 5"]}}}
    started = time.monotonic()
    result, stderr, _ = project.run(compose, options={"timeout": 60})
    took = time.monotonic() - started
    assert result["deploy_status_code"] == 1, result
    assert "service flappy" in result["deploy_stderr"]
    assert "keeps restarting" in result["deploy_stderr"] and "flapping" in result["deploy_stderr"]
    assert took < 30, took


@pytest.mark.parametrize("version", [None, "2.4", "3.8"])
def test_compose_files_with_and_without_version(new_project, version):
    project = new_project()
    port = free_port()
    text = yaml.safe_dump(app(project, port, version=version), sort_keys=False)
    assert text.startswith("services:") == (version is None)
    result, stderr, _ = project.run(text, options={"outputs": {"port": OUTPUTS["web_port"]}},
                                    outputs=[{"name": "port"}])
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert result["port"] == port
    assert http_get(port, "/db.txt").strip() == "db-ok"


def test_env_files_from_inputs_and_secrets_stay_out_of_the_result(new_project):
    project = new_project()
    password = "s3cr3t-Pa55w0rd-xyz"
    token = "tok-4242-abcdef"
    port = free_port()
    compose = {"services": {
        # Serves its environment: proof the env files reached the container.
        "web": {"image": project.image, "env_file": ["app_env", "db_env"],
                "ports": [f"127.0.0.1:{port}:8080"], "stop_grace_period": "1s",
                "command": ["sh", "-c", "env > /var/www/env.txt; "
                            "exec httpd -f -p 8080 -h /var/www"]},
        # Prints its environment and exits: its logs land in deploy_stderr.
        "leaky": {"image": project.image, "env_file": "db_env",
                  "command": ["sh", "-c", "env; exit 1"]}}}
    inputs = [
        {"name": "app_env", "type": "Json", "value": {"GREETING": "hello", "API_TOKEN": token}},
        # 55-heat-config delivers String inputs as text.
        {"name": "db_env", "type": "String", "value": f"DB_USER=app\nDB_PASSWORD={password}\n"},
    ]
    result, stderr, _ = project.run(compose, inputs=inputs)
    assert result["deploy_status_code"] == 1  # leaky exits
    assert "service leaky" in result["deploy_stderr"]
    env = http_get(port, "/env.txt")
    assert f"DB_PASSWORD={password}" in env and f"API_TOKEN={token}" in env
    assert "GREETING=hello" in env
    whole = json.dumps(result)
    assert password not in whole and token not in whole
    assert "DB_PASSWORD=<redacted>" in result["deploy_stderr"]
    directory = os.path.join(project.workdir, "compose", project.project)
    assert sorted(os.listdir(directory)) == [
        ".heat-env-files.json", "app_env", "db_env", "docker-compose.yml"]
    assert stat.S_IMODE(os.stat(os.path.join(directory, "db_env")).st_mode) == 0o600


def test_env_file_that_is_no_input_is_refused_before_anything_runs(new_project):
    project = new_project()
    compose = {"services": {"web": dict(sleeper(), image=project.image, env_file="nope.env")}}
    result, _, _ = project.run(compose)
    assert result["deploy_status_code"] == 1
    assert "services.web.env_file" in result["deploy_stderr"]
    assert "'nope.env' is not a declared input" in result["deploy_stderr"]
    assert project.containers() == {}


def test_two_projects_side_by_side(new_project):
    one, two = new_project("Frontend"), new_project("Frontend")  # same name, other stacks
    compose = {"services": {"web": {
        "image": one.image, "ports": ["127.0.0.1::8080"], "stop_grace_period": "1s",
        "command": ["httpd", "-f", "-p", "8080", "-h", "/var/www"]}}}
    outputs = {"port": "service/web:{.status.ports[0].hostPort}"}
    ports = []
    for project in (one, two):
        result, stderr, _ = project.run(compose, options={"outputs": outputs},
                                        outputs=[{"name": "port"}])
        assert result["deploy_status_code"] == 0, (result, stderr)
        ports.append(result["port"])
    assert one.project != two.project
    assert len(set(ports)) == 2
    for port in ports:
        assert "hello from" in http_get(port)
    result, stderr, _ = one.run(compose, action="DELETE")
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert one.containers() == {}
    assert services_of(two) == ["web"]
    assert "hello from" in http_get(ports[1])


def test_suspend_and_resume(new_project):
    project = new_project()
    port = free_port()
    compose = app(project, port)
    result, stderr, _ = project.run(compose)
    assert result["deploy_status_code"] == 0, (result, stderr)
    result, stderr, _ = project.run(compose, action="SUSPEND")
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert "service/web: stopped" in result["deploy_stdout"]
    assert services_of(project) == []
    result, stderr, _ = project.run(compose, action="RESUME",
                                    options={"outputs": {"h": OUTPUTS["db_health"]}},
                                    outputs=[{"name": "h"}])
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert result["h"] == "healthy"
    assert services_of(project) == ["db", "web"]
    assert http_get(port, "/index.html").strip() == "hello from heat-config-kubectl"


def test_structured_config_and_services_only_text(new_project):
    project = new_project()
    structured = {"services": {"one": dict(sleeper(), image=project.image)}}
    result, stderr, _ = project.run(structured)
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert services_of(project) == ["one"]
    # The same deployment updated to YAML text whose only top-level key is
    # `services:` (the heat-agents docker-compose hook crashes on this).
    text = f"services:\n  two:\n    image: {project.image}\n    command: [sleep, '3600']\n"
    result, stderr, _ = project.run(text, action="UPDATE", config_id="cfg-2")
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert services_of(project) == ["two"]


@pytest.mark.parametrize("config, message", [
    ("", "config is missing or empty"),
    ({}, "config is missing or empty"),
    ("services:\n", "non-empty `services:` map"),
    ("services: {web: {command: [sleep, '1']}}", "services.web has no image"),
    ("version: '3'\n", "non-empty `services:` map"),
])
def test_empty_or_serviceless_config_is_a_clear_error(new_project, config, message):
    project = new_project()
    result, stderr, code = project.run(config)
    assert result["deploy_status_code"] == 1 and code == 1
    assert message in result["deploy_stderr"]
    assert "Traceback" not in stderr
    assert project.containers() == {}


def test_dry_run_checks_the_file_and_changes_nothing(new_project):
    project = new_project()
    compose = {"services": {"a": dict(sleeper(), image=project.image)}}
    result, stderr, _ = project.run(compose, options={"dry_run": True})
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert "service/a: would create" in result["deploy_stdout"]
    assert project.containers() == {}
    assert not os.path.exists(os.path.join(project.workdir, "compose", project.project))
    result, stderr, _ = project.run(compose)
    assert result["deploy_status_code"] == 0, (result, stderr)
    changed = {"services": {"b": dict(sleeper(), image=project.image)}}
    result, stderr, _ = project.run(changed, action="UPDATE", options={"dry_run": True})
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert "service/b: would create" in result["deploy_stdout"]
    assert "service/a: would prune" in result["deploy_stdout"]
    assert services_of(project) == ["a"]
    # A file compose itself refuses fails the dry run, naming the problem.
    bad = {"services": {"a": dict(sleeper(), image=project.image, ports=["not-a-port"])}}
    result, stderr, _ = project.run(bad, action="UPDATE", options={"dry_run": True})
    assert result["deploy_status_code"] == 1
    assert "services.a.ports contains an invalid type" in result["deploy_stderr"]


def test_resume_fails_fast_when_a_container_was_removed(new_project):
    project = new_project()
    compose = {"services": {"a": dict(sleeper(), image=project.image),
                            "b": dict(sleeper(), image=project.image)}}
    assert project.run(compose)[0]["deploy_status_code"] == 0
    assert project.run(compose, action="SUSPEND")[0]["deploy_status_code"] == 0
    project.podman("rm", "-f", f"{project.project}_b_1")
    started = time.monotonic()
    result, stderr, _ = project.run(compose, action="RESUME", options={"timeout": 60})
    assert result["deploy_status_code"] == 1
    assert "service b has no container" in result["deploy_stderr"]
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("value, message", [
    ({"BAD KEY": "x"}, "input app_env: 'BAD KEY' is not a valid variable name"),
    ({"MULTI": "one\ntwo"}, "input app_env: the value of MULTI spans lines"),
    (42, "input app_env: an env file must be KEY=VALUE lines or a map"),
])
def test_bad_env_file_input_is_a_clear_error(new_project, value, message):
    project = new_project()
    compose = {"services": {"a": dict(sleeper(), image=project.image, env_file="app_env")}}
    result, _, _ = project.run(compose, inputs=[{"name": "app_env", "type": "Json",
                                                 "value": value}])
    assert result["deploy_status_code"] == 1
    assert message in result["deploy_stderr"]
    assert project.containers() == {}


def test_unreachable_engine_and_missing_compose_are_clear_errors(new_project, tmp_path):
    project = new_project()
    compose = {"services": {"a": dict(sleeper(), image=project.image)}}
    project.env["DOCKER_HOST"] = f"unix://{tmp_path}/no-such.sock"
    result, stderr, _ = project.run(compose)
    assert result["deploy_status_code"] == 1
    assert "cannot reach the container engine at DOCKER_HOST=unix://" in result["deploy_stderr"]
    assert "Traceback" not in stderr
    project.env = dict(project.env, DOCKER_HOST=new_project().env["DOCKER_HOST"],
                       HEAT_KUBECTL_COMPOSE="/nonexistent/docker-compose")
    result, stderr, _ = project.run(compose)
    assert result["deploy_status_code"] == 1
    assert "cannot run /nonexistent/docker-compose" in result["deploy_stderr"]
    assert project.containers() == {}


def test_one_shot_dependency_that_completes_is_success(new_project):
    project = new_project()
    port = free_port()
    compose = {"services": {
        "migrate": {"image": project.image,
                    "command": ["sh", "-c", "sleep 1; echo migrated"]},
        "web": {"image": project.image, "ports": [f"127.0.0.1:{port}:8080"],
                "stop_grace_period": "1s",
                "command": ["httpd", "-f", "-p", "8080", "-h", "/var/www"],
                "depends_on": {"migrate": {"condition": "service_completed_successfully"}}}}}
    result, stderr, _ = project.run(compose)
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert "service/migrate: created, ready" in result["deploy_stdout"]
    assert "hello from" in http_get(port)
    assert services_of(project, "exited") == ["migrate"]


def test_heat_agents_env_files_input_and_stale_env_files_removed(new_project):
    """The heat-agents docker-compose hook's `env_files` input (a list of
    {file_name, content}, str()ed by 55-heat-config) keeps working."""
    project = new_project()
    port = free_port()
    bundle = [{"file_name": "./common.env", "content": "COMMON=shared-value\n"},
              {"file_name": "apps/web.env", "content": "WEB_SECRET=web-only-secret\n"}]
    compose = {"services": {"web": {
        "image": project.image, "env_file": ["./common.env", "apps/web.env"],
        "ports": [f"127.0.0.1:{port}:8080"], "stop_grace_period": "1s",
        "command": ["sh", "-c", "env > /var/www/env.txt; exec httpd -f -p 8080 -h /var/www"]}}}
    inputs = [{"name": "env_files", "type": "String", "value": repr(bundle)}]
    result, stderr, _ = project.run(compose, inputs=inputs)
    assert result["deploy_status_code"] == 0, (result, stderr)
    env = http_get(port, "/env.txt")
    assert "COMMON=shared-value" in env and "WEB_SECRET=web-only-secret" in env
    directory = os.path.join(project.workdir, "compose", project.project)
    assert os.path.isfile(os.path.join(directory, "apps", "web.env"))
    assert stat.S_IMODE(os.stat(os.path.join(directory, "apps")).st_mode) == 0o700
    # A file the containers wrote into the project directory is not the hook's.
    with open(os.path.join(directory, "data.txt"), "w") as other:
        other.write("kept")
    # UPDATE without apps/web.env: the hook removes the env file it wrote.
    compose["services"]["web"]["env_file"] = ["./common.env"]
    result, stderr, _ = project.run(compose, action="UPDATE", inputs=inputs, config_id="cfg-2")
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert not os.path.exists(os.path.join(directory, "apps", "web.env"))
    assert os.path.isfile(os.path.join(directory, "common.env"))
    assert os.path.isfile(os.path.join(directory, "data.txt"))
    assert "WEB_SECRET" not in http_get(port, "/env.txt")


def test_env_files_input_outside_the_project_is_refused(new_project):
    project = new_project()
    compose = {"services": {"a": dict(sleeper(), image=project.image, env_file="../x.env")}}
    inputs = [{"name": "env_files", "type": "Json",
               "value": [{"file_name": "../x.env", "content": "A=1"}]}]
    result, _, _ = project.run(compose, inputs=inputs)
    assert result["deploy_status_code"] == 1
    assert "input env_files: '../x.env' is not a relative file name" in result["deploy_stderr"]


@pytest.mark.parametrize("expression, message", [
    ("service/nope:{.status.podIP}", "the compose file has no service 'nope'"),
    ("deployment/a:{.status}", "outputs of kind service or container, not 'deployment'"),
    ("service/a", "is not 'kind/name[.namespace]:{.json.path}'"),
])
def test_bad_output_expression_is_refused_before_anything_runs(new_project, expression, message):
    project = new_project()
    compose = {"services": {"a": dict(sleeper(), image=project.image)}}
    result, _, _ = project.run(compose, options={"outputs": {"x": expression}},
                               outputs=[{"name": "x"}])
    assert result["deploy_status_code"] == 1
    assert message in result["deploy_stderr"]
    assert "options.outputs.x" in result["deploy_stderr"]
    assert project.containers() == {}


def test_service_with_a_dot_in_its_name_is_addressable(new_project):
    project = new_project()
    compose = {"services": {"api.v2": dict(sleeper(), image=project.image),
                            "${worker}": dict(sleeper(), image=project.image)}}
    result, stderr, _ = project.run(
        compose, options={"outputs": {"state": "service/api.v2:{.status.phase}",
                                      "worker": "service/${worker}:{.metadata.name}"}},
        inputs=[{"name": "worker", "type": "String", "value": "queue-worker"}],
        outputs=[{"name": "state"}, {"name": "worker"}])
    assert result["deploy_status_code"] == 0, (result, stderr)
    assert result["state"] == "Running"
    assert result["worker"] == "queue-worker"


def test_unwritable_workdir_is_a_clear_error(new_project, tmp_path):
    project = new_project()
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    project.env["HEAT_KUBECTL_WORKDIR"] = str(blocker)
    compose = {"services": {"a": dict(sleeper(), image=project.image)}}
    result, stderr, _ = project.run(compose)
    assert result["deploy_status_code"] == 1
    assert "cannot write the compose project to" in result["deploy_stderr"]
    assert "HEAT_KUBECTL_WORKDIR" in result["deploy_stderr"]
    assert "Traceback" not in stderr
    assert project.containers() == {}


def _compose_processes(project):
    """pids of compose commands for the project (not conmon, which names
    the project's containers)."""
    text = f"--project-name\0{project}\0"
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if text.encode() in cmdline.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_sigterm_stops_the_compose_command_too(new_project):
    import signal
    import subprocess
    import sys
    from tests.conftest import HOOK

    project = new_project()
    compose = app(project, free_port())
    compose["services"]["db"]["healthcheck"]["test"] = ["CMD", "false"]  # never healthy
    compose["services"]["db"]["healthcheck"]["retries"] = 1000
    hook = subprocess.Popen(
        [sys.executable, HOOK], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=project.env)
    hook.stdin.write(json.dumps(project.deployment(compose)))
    hook.stdin.close()
    deadline = time.monotonic() + 30
    while not _compose_processes(project.project) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _compose_processes(project.project), "docker-compose never started"
    time.sleep(2)  # compose is now waiting for db to be healthy
    hook.send_signal(signal.SIGTERM)
    hook.wait(timeout=60)
    out = hook.stdout.read()
    result = json.loads(out)
    assert result["deploy_status_code"] == 1
    assert "terminated" in result["deploy_stderr"]
    time.sleep(0.5)
    assert _compose_processes(project.project) == []
