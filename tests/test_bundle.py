"""The DigitalOcean project: project.yml obeys the deployer's rules, and the bundle runs as deployed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from memplane import bundle, envfile
from tests.conftest import TEST_DIM, load_event, memplane_cli

ROOT = Path(__file__).parents[1]

# The keys the deployer accepts at each level; any other key fails the deploy.
TOP_KEYS = {"targetNamespace", "parameters", "environment", "packages"}
PACKAGE_KEYS = {"name", "functions", "environment", "parameters", "annotations", "web"}
FUNCTION_KEYS = {
    "name",
    "runtime",
    "main",
    "web",
    "webSecure",
    "environment",
    "parameters",
    "limits",
    "triggers",
    "binary",
    "annotations",
}
CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def valid_cron(expression: str) -> bool:
    fields = expression.split()
    if len(fields) != 5:
        return False
    for field, (low, high) in zip(fields, CRON_RANGES, strict=True):
        if not CRON_FIELD.match(field):
            return False
        numbers = [int(n) for n in re.findall(r"\d+", field.split("/")[0])]
        if any(n < low or n > high for n in numbers):
            return False
    return True


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "project.yml").read_text())
    return loaded


def test_project_yml_uses_only_keys_the_deployer_accepts(project: dict[str, Any]) -> None:
    assert set(project) <= TOP_KEYS
    for package in project["packages"]:
        assert set(package) <= PACKAGE_KEYS
        for function in package["functions"]:
            assert set(function) <= FUNCTION_KEYS, function["name"]
            assert function["runtime"] == "python:3.11"
            assert function["main"] == "main"
            assert all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in function["limits"].values()
            )
            assert set(function["limits"]) <= {"timeout", "memory", "logs"}
            secure = function.get("webSecure", False)
            assert secure is False or isinstance(secure, str)
    for scope in [project, *project["packages"]]:
        assert all(isinstance(v, str) for v in scope.get("environment", {}).values())


def test_functions_are_exposed_protected_and_sized_to_their_slas(project: dict[str, Any]) -> None:
    functions = {f["name"]: f for f in project["packages"][0]["functions"]}
    assert set(functions) == {"assemble", "writeback", "cleanup"}
    for name, sla_ms in (("assemble", 2000), ("writeback", 3000), ("cleanup", 30_000)):
        # cleanup too: forget and export are called over the web, with the same protection.
        assert functions[name]["web"] in (True, "raw")
        assert functions[name]["webSecure"] == "${MEMPLANE_WEB_SECRET}"
        assert functions[name]["limits"]["timeout"] >= 2 * sla_ms
    cleanup = functions["cleanup"]
    assert all(128 <= f["limits"]["memory"] <= 1024 for f in functions.values())
    trigger = cleanup["triggers"][0]
    assert trigger["type"] == "scheduled"
    assert trigger["scheduledDetails"]["cron"] == "0 2 * * *"
    assert valid_cron(trigger["scheduledDetails"]["cron"])


def test_cron_check_rejects_what_the_scheduler_would() -> None:
    assert valid_cron("*/15 2-4 * * 1,3")
    assert not valid_cron("0 2 * *")
    assert not valid_cron("61 2 * * *")
    assert not valid_cron("0 2 * * * *")


def test_every_variable_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert bundle.variables((ROOT / "project.yml").read_text()) <= documented


def test_bundle_layout(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text("DATABASE_URL=postgresql://x\n# OPENAI_API_KEY=commented out\nUNUSED=1\n")
    missing = bundle.build(tmp_path / "do", shell={}, env_file=env_file, install=False)
    assert "DATABASE_URL" not in missing
    assert "MEMPLANE_WEB_SECRET" in missing
    out = tmp_path / "do"
    project = (out / "project.yml").read_text()
    assert 'DATABASE_URL: "${DATABASE_URL}"' in project
    assert "OPENAI_API_KEY:" not in project  # unset: left out, so memplane's default applies
    assert 'webSecure: "${MEMPLANE_WEB_SECRET}"' in project  # not a setting: it must be given
    # Only what the project uses, quoted, readable by its owner alone: it holds secrets.
    assert (out / ".env").read_text() == "DATABASE_URL='postgresql://x'\n"
    assert (out / ".env").stat().st_mode & 0o777 == 0o600
    for name in bundle.FUNCTIONS:
        fn = out / "packages" / "memory" / name
        assert (fn / "__main__.py").exists()
        assert (fn / "memplane" / "platform" / "digitalocean.py").exists()
        assert not (fn / "memplane" / "evaluation").exists()
        assert not (fn / "memplane" / "bundle.py").exists()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle as `memplane bundle` writes it for the deploy: dependencies installed for Linux."""
    out = tmp_path_factory.mktemp("bundle") / "do"
    bundle.build(out, shell={})
    return out


def test_the_deployer_zips_each_function_as_it_is_so_it_deploys_the_trigger(installed: Path) -> None:
    """functions-deployer 5.0.19 (src/finder-builder.ts, findSpecialFile): a function folder holding
    build.sh, build.cmd, package.json or .include is built ("dominance order is build.[sh|cmd] >
    package.json > .include > none-of-these"), and with --remote-build sent to the builder, whose path
    (`if (action.buildResult) return processRemoteResponse(...)` in src/deploy.ts) never reaches
    `deployTriggers`. None of these: the folder is zipped as it is and deployed by
    `deployActionFromCodeOrSequence`, which calls `deployTriggers(action.triggers, ...)` after
    `wsk.actions.update`. Checked here by running that deployer on this bundle against a local stand-in
    of the platform: three `PUT .../actions/memory/*` and `POST /v2/functions/namespaces/<ns>/triggers`
    with {"name": "cleanup-nightly", "function": "memory/cleanup", "type": "SCHEDULED", ...}, with and
    without --remote-build."""
    for name in bundle.FUNCTIONS:
        fn = installed / "packages" / "memory" / name
        special = {"build.sh", "build.cmd", "package.json", ".include", ".source", "requirements.txt"}
        assert not special & {p.name for p in fn.iterdir()}
        # The runtime activates this, and refuses a virtualenv/ without it.
        assert (fn / "virtualenv" / "bin" / "activate_this.py").is_file()
        assert (fn / "virtualenv" / "lib" / "python3.11" / "site-packages" / "psycopg").is_dir()
    assert bundle.skipped_by_deployer(installed) == []
    trigger = yaml.safe_load((installed / "project.yml").read_text())["packages"][0]["functions"][2][
        "triggers"
    ]
    assert deployer_trigger_error(trigger) is None


def deployer_trigger_error(triggers: Any) -> str | None:
    """functions-deployer's validateTriggers (src/util.ts), as it reads."""
    if not isinstance(triggers, list):
        return "a 'triggers' clause must be an array"
    for trigger in triggers:
        if set(trigger) - {"name", "enabled", "type", "scheduledDetails"}:
            return "Invalid key found in 'triggers' clause"
        if not isinstance(trigger.get("name"), str) or str(trigger.get("type", "")).upper() != "SCHEDULED":
            return "name and type='scheduled' are required"
        details = trigger.get("scheduledDetails")
        if not isinstance(details, dict) or set(details) - {"cron", "body"}:
            return "scheduledDetails must be a dictionary of cron and body"
        if not isinstance(details.get("cron"), str) or not valid_cron(details["cron"]):
            return "the cron expression is not valid crontab syntax"
        if details.get("body") and not isinstance(details["body"], dict):
            return "the 'body' member of scheduledDetails must be a dictionary"
        if "enabled" in trigger and not isinstance(trigger["enabled"], bool):
            return "the 'enabled' property of a trigger must be boolean"
    return None


def test_the_docs_deploy_with_the_command_the_bundle_is_built_for() -> None:
    """The remote build drops the trigger: no deploy command in the docs may ask for it."""
    documented = {
        command.strip()
        for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
        for command in re.findall(r"doctl serverless deploy[^`\n]*", doc.read_text())
    }
    assert documented == {bundle.DEPLOY_COMMAND.format(out="build/do")}


RUNTIME = """
import importlib.util, json, os, sys
# What DigitalOcean's Python runtime does with a function's zip: start in its folder, activate the
# virtualenv it carries, import __main__.py, and call main with as many arguments as it takes.
os.chdir(sys.argv[1])
sys.path.insert(0, os.getcwd())
activate = "virtualenv/bin/activate_this.py"
exec(compile(open(activate).read(), activate, "exec"), {"__file__": activate})
spec = importlib.util.spec_from_file_location("main__", "__main__.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
class Context:
    activation_id = "act-1"
    function_name = "/ns/memory/writeback"
    def get_remaining_time_in_millis(self):
        return 20000
event = json.loads(sys.stdin.read())
reply = module.main(event, Context()) if module.main.__code__.co_argcount == 2 else None
import memplane, psycopg
print(json.dumps({"reply": reply, "memplane": memplane.__file__, "psycopg": psycopg.__file__}, default=str))
"""


def test_the_bundled_function_runs_as_the_runtime_runs_it(installed: Path, db_url: str) -> None:
    """Nothing from this machine's environment: `-I -S` leaves out site-packages, so memplane and every
    dependency come from the bundle, as bytecode where the bundle has no sources."""
    function_dir = installed / "packages" / "memory" / "writeback"
    event = load_event("writeback_web_raw.json")
    event["http"]["headers"]["authorization"] = "Bearer tok-bundle"
    ran = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUNTIME, str(function_dir)],
        input=json.dumps(event),
        env={
            "DATABASE_URL": db_url,
            "MEMPLANE_EMBEDDING_DIM": str(TEST_DIM),
            "MEMPLANE_API_TOKEN": "tok-bundle",
            "PATH": os.environ["PATH"],
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["reply"]["statusCode"] == 200, result
    assert result["memplane"].startswith(str(function_dir))
    assert result["psycopg"].startswith(str(function_dir / "virtualenv"))


def test_each_function_zipped_with_its_dependencies_stays_lean_without_qdrant(installed: Path) -> None:
    sizes = bundle.measure(installed)
    print({s.function: s.zipped_mb for s in sizes})
    assert {s.function for s in sizes} == set(bundle.FUNCTIONS)
    assert all(5 < s.zipped_mb < 25 for s in sizes)
    for name in bundle.FUNCTIONS:
        site = installed / "packages" / "memory" / name / bundle.SITE
        assert not (site / "qdrant_client").exists()
        assert (site / "psycopg" / "__init__.pyc").exists()  # bytecode, so a cold start does not compile
        assert not (site / "psycopg" / "__init__.py").exists()


def test_with_qdrant_each_function_carries_the_client_trimmed_under_45_mb(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text("MEMPLANE_VECTOR_BACKEND=qdrant\nQDRANT_URL=https://example.cloud.qdrant.io\n")
    bundle.build(tmp_path / "do", shell={}, env_file=env_file)
    for name in bundle.FUNCTIONS:
        site = tmp_path / "do" / "packages" / "memory" / name / bundle.SITE
        assert (site / "qdrant_client" / "__init__.pyc").exists()
        assert not (site / "numpy" / "tests").exists()
    sizes = bundle.measure(tmp_path / "do")
    print({s.function: s.zipped_mb for s in sizes})
    assert all(30 < s.zipped_mb < bundle.LIMIT_MB for s in sizes)


def deployer_substitute(text: str, env: dict[str, str], props: dict[str, str]) -> tuple[str, list[str]]:
    """functions-deployer's ${VAR} substitution, as it reads (src/util.ts): the deploy's environment
    first, then the .env file; an empty value is as bad as none. Returns the text and the bad names."""
    bad: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        found = env.get(name) or props.get(name)
        if not found:
            bad.append(name)
            return ""
        return found

    return re.sub(r"\$\{([^}]*)\}", value, text), bad


DEPLOY_ENV = """\
DATABASE_URL=postgresql://doadmin:secret@db.example.com:25061/memplane-pool?sslmode=require
MEMPLANE_DB_PREPARED_STATEMENTS=false
OPENAI_API_KEY=sk-test
OPENAI_BASE_URL=
MEMPLANE_EMBEDDING_MODEL=text-embedding-3-small
MEMPLANE_EMBEDDING_DIM=1536
MEMPLANE_CHAT_MODEL=
MEMPLANE_MEMORY_TTL_DAYS=
MEMPLANE_API_TOKEN=tok
MEMPLANE_WEB_SECRET=web
INFISICAL_CLIENT_ID=
INFISICAL_CLIENT_SECRET=
INFISICAL_PROJECT_ID=
MEMPLANE_VECTOR_BACKEND=
QDRANT_URL=
"""


def test_settings_left_empty_are_left_out_so_the_deploy_resolves_every_name(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text(DEPLOY_ENV)
    assert bundle.build(tmp_path / "do", shell={}, env_file=env_file, install=False) == []
    project = (tmp_path / "do" / "project.yml").read_text()
    resolved, bad = deployer_substitute(project, {}, envfile.parse((tmp_path / "do" / ".env").read_text()))
    assert bad == []
    environment = yaml.safe_load(resolved)["environment"]
    assert environment["DATABASE_URL"].endswith("memplane-pool?sslmode=require")
    assert environment["OPENAI_API_KEY"] == "sk-test"
    # Empty means "unset" to memplane: not passed at all, so no Infisical and the default chat model.
    assert not {"OPENAI_BASE_URL", "INFISICAL_CLIENT_ID", "MEMPLANE_CHAT_MODEL", "QDRANT_URL"} & set(
        environment
    )
    assert all(value for value in environment.values())


def test_a_value_in_the_deploy_shell_resolves_and_stays_out_of_the_bundle(tmp_path: Path) -> None:
    # doctl reads its own environment before the project's .env: a secret exported in the deploy
    # shell counts as given, and is not copied into the bundle.
    env_file = tmp_path / "deploy.env"
    env_file.write_text(DEPLOY_ENV.replace("MEMPLANE_WEB_SECRET=web", "MEMPLANE_WEB_SECRET="))
    shell = {"MEMPLANE_WEB_SECRET": "from-the-shell", "QDRANT_URL": "https://q.example"}
    assert bundle.build(tmp_path / "do", shell=shell, env_file=env_file, install=False) == []
    project = (tmp_path / "do" / "project.yml").read_text()
    assert "QDRANT_URL: " in project  # set in the shell: passed to the functions
    assert "from-the-shell" not in (tmp_path / "do" / ".env").read_text()


def test_check_names_what_the_deploy_would_stop_on(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text(DEPLOY_ENV.replace("MEMPLANE_WEB_SECRET=web", "MEMPLANE_WEB_SECRET="))
    checked = memplane_cli("bundle", "--out", "do", "--env-file", str(env_file), "--check", cwd=tmp_path)
    assert checked.returncode == 1
    assert "MEMPLANE_WEB_SECRET" in checked.stderr
    assert "deploy would stop" in checked.stderr


def test_check_fails_on_a_value_the_deployer_would_cut_at_a_hash(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    url = "postgresql://doadmin:pa#ss@db.example.com:25061/memplane-pool?sslmode=require"
    env_file.write_text(DEPLOY_ENV.replace(DEPLOY_ENV.splitlines()[0], f"DATABASE_URL={url}"))
    checked = memplane_cli("bundle", "--out", "do", "--env-file", str(env_file), "--check", cwd=tmp_path)
    assert checked.returncode == 1
    assert "DATABASE_URL: the deployer would cut its value at the '#'" in checked.stderr
    assert "put the value in single quotes: DATABASE_URL='...'" in checked.stderr
    assert "pa#ss" not in checked.stderr + checked.stdout  # a secret is named, never shown
    # Whatever the check says, the bundle's own .env carries the whole value, quoted.
    assert envfile.parse((tmp_path / "do" / ".env").read_text())["DATABASE_URL"] == url


# What dotenv 16.0.3, the deployer's .env reader, returned for each line (run here with node on the
# deployer's own node_modules): the parser must read exactly the same.
DOTENV_READS = [
    ("A=ab#cd", "ab"),
    ("A=ab #cd", "ab"),
    ("A='ab#cd'", "ab#cd"),
    ('A="x\\ny"', "x\ny"),
    ("export A=plain", "plain"),
    ("A=", ""),
    ("A = spaced", "spaced"),
    ('A="unterminated', '"unterminated'),
    ("A=`back#tick`", "back#tick"),
    ("A: colon", "colon"),
    ("A=a'b", "a'b"),
    ('A="a#b" # c', "a#b"),
    ("A=é#ü", "é"),
]


@pytest.mark.parametrize(("line", "read"), DOTENV_READS)
def test_environment_files_are_read_as_the_deployer_reads_them(line: str, read: str) -> None:
    assert envfile.parse(line + "\n") == {"A": read}


@pytest.mark.parametrize("value", ["p#w", "a'b", 'say "hi" #1', "`x` 'y'", " padded ", "ends\\n"])
def test_written_values_read_back_whole(value: str) -> None:
    assert envfile.parse(envfile.render({"A": value})) == {"A": value}


def test_a_log_destination_is_declared_for_the_platform_to_forward_logs(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text(DEPLOY_ENV + "LOGTAIL_TOKEN=lt-123\n")
    missing = bundle.build(
        tmp_path / "do", shell={}, env_file=env_file, log_destinations=("logtail", "datadog"), install=False
    )
    assert missing == ["DATADOG_API_KEY", "DATADOG_ENDPOINT"]  # datadog needs its own two settings
    project = (tmp_path / "do" / "project.yml").read_text()
    props = {
        **envfile.parse((tmp_path / "do" / ".env").read_text()),
        "DATADOG_API_KEY": "k",
        "DATADOG_ENDPOINT": "https://dd.example",
    }
    resolved, bad = deployer_substitute(project, {}, props)
    assert bad == []
    destinations = json.loads(yaml.safe_load(resolved)["environment"]["LOG_DESTINATIONS"])
    assert destinations == [
        {"logtail": {"token": "lt-123"}},
        {"datadog": {"endpoint": "https://dd.example", "api_key": "k"}},
    ]
