"""Secrets at cold start: from the environment or Infisical, cached for bad days, and never printed."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memplane import wiring
from memplane.errors import ConfigurationError, SecretsUnavailable
from memplane.wiring import settings_with_secrets
from tests import infisical_stub as stub_module
from tests.conftest import TEST_DIM, Context, load_event
from tests.infisical_stub import InfisicalStub
from tests.test_entrypoints import load_main


@pytest.fixture
def infisical(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[InfisicalStub]:
    """A running Infisical holding memplane's secrets, and an environment that points at it."""
    stub = InfisicalStub().start()
    stub.behaviour.secrets = {
        "DATABASE_URL": db_url,
        "MEMPLANE_API_TOKEN": "tok-from-infisical",
        "MEMPLANE_EMBEDDING_DIM": str(TEST_DIM),
        "MEMPLANE_CHAT_MODEL": "model-from-infisical",
        "UNRELATED_SECRET": "ignored",
    }
    monkeypatch.chdir(tmp_path)
    for name in [
        n for n in os.environ if n.startswith(("DATABASE_URL", "OPENAI_", "MEMPLANE_", "INFISICAL_"))
    ]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("INFISICAL_CLIENT_ID", stub_module.CLIENT_ID)
    monkeypatch.setenv("INFISICAL_CLIENT_SECRET", stub_module.CLIENT_SECRET)
    monkeypatch.setenv("INFISICAL_PROJECT_ID", stub_module.PROJECT_ID)
    monkeypatch.setenv("INFISICAL_HOST", stub.url)
    monkeypatch.setenv("INFISICAL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("INFISICAL_TIMEOUT", "0.5")
    wiring.reset()
    yield stub
    wiring.reset()
    stub.stop()


def call(function: str, event: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    if token:
        event["http"]["headers"]["authorization"] = f"Bearer {token}"
    reply: dict[str, Any] = load_main(function)(event, Context())
    return reply


def test_secrets_come_from_infisical(infisical: InfisicalStub) -> None:
    settings = settings_with_secrets()
    assert settings.database_url is not None
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "tok-from-infisical"
    assert settings.secrets_source == "infisical"
    infisical.behaviour.requests.clear()
    # End to end: the function reaches the database Infisical named, and demands its token.
    assert call("writeback", load_event("writeback_web_raw.json"))["statusCode"] == 401
    written = call("writeback", load_event("writeback_web_raw.json"), token="tok-from-infisical")
    assert written["statusCode"] == 200, written
    health = call("assemble", load_event("health_web.json"), token="tok-from-infisical")["body"]
    assert health["secrets"] == {"status": "ok", "source": "infisical"}
    assert [m for m, _ in infisical.behaviour.requests] == ["POST", "GET"]  # once per warm container


def test_environment_beats_infisical_which_beats_dotenv(
    infisical: InfisicalStub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("MEMPLANE_CHAT_MODEL=model-from-dotenv\nMEMPLANE_CONTEXT_TOKENS=777\n")
    monkeypatch.setenv("MEMPLANE_API_TOKEN", "tok-from-environment")
    settings = settings_with_secrets()
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "tok-from-environment"
    assert settings.chat_model == "model-from-infisical"
    assert settings.context_token_budget == 777  # only in .env: still read


def test_wrong_credentials_are_a_clear_start_up_error(
    infisical: InfisicalStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFISICAL_CLIENT_SECRET", "not-the-secret")
    with pytest.raises(ConfigurationError, match="INFISICAL_CLIENT_SECRET"):
        settings_with_secrets()
    reply = call("assemble", load_event("assemble_web.json"))
    assert reply["statusCode"] == 503
    assert reply["body"]["error"]["code"] == "configuration_error"
    assert "HTTP 401" in reply["body"]["error"]["message"]


def test_a_warm_container_picks_up_a_rotated_secret_and_keeps_serving_when_infisical_is_down(
    infisical: InfisicalStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMPLANE_SECRETS_REFRESH_SECONDS", "0.3")
    assert (
        call("writeback", load_event("writeback_web_raw.json"), token="tok-from-infisical")["statusCode"]
        == 200
    )
    infisical.behaviour.secrets["MEMPLANE_API_TOKEN"] = "tok-rotated"
    time.sleep(0.4)  # the warm container's copy is now older than its refresh age
    assert call("writeback", load_event("writeback_web_raw.json"), token="tok-rotated")["statusCode"] == 200
    assert (
        call("writeback", load_event("writeback_web_raw.json"), token="tok-from-infisical")["statusCode"]
        == 401
    )

    infisical.behaviour.status = 503  # Infisical goes down: the copy in hand keeps serving
    time.sleep(0.4)
    assert call("writeback", load_event("writeback_web_raw.json"), token="tok-rotated")["statusCode"] == 200


def test_infisical_down_with_a_fresh_cache_serves_from_the_cache(
    infisical: InfisicalStub, tmp_path: Path
) -> None:
    settings_with_secrets()  # a cold start that fetched and cached
    cache = next(tmp_path.glob("memplane-*/memplane-secrets-*.json"))
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    infisical.behaviour.status = 503
    settings = settings_with_secrets()
    assert settings.secrets_source == "cached"
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "tok-from-infisical"
    health = call("assemble", load_event("health_web.json"), token="tok-from-infisical")
    assert health["statusCode"] == 200
    assert health["body"]["secrets"] == {"status": "cached", "source": "infisical"}


def test_infisical_down_with_a_stale_or_no_cache_is_503_with_the_reason(
    infisical: InfisicalStub, tmp_path: Path
) -> None:
    infisical.behaviour.status = 502
    with pytest.raises(SecretsUnavailable, match="no cached copy"):
        settings_with_secrets()
    reply = call("assemble", load_event("assemble_web.json"))
    assert reply["statusCode"] == 503
    assert reply["body"]["error"]["code"] == "secrets_unavailable"
    assert "Infisical" in reply["body"]["error"]["message"]

    infisical.behaviour.status = 200
    settings_with_secrets()
    cache = next(tmp_path.glob("memplane-*/memplane-secrets-*.json"))
    aged = json.loads(cache.read_text())
    aged["fetched_at"] -= 25 * 3600  # older than the 24 h default
    cache.write_text(json.dumps(aged))
    infisical.behaviour.status = 503
    with pytest.raises(SecretsUnavailable, match="24 h"):
        settings_with_secrets()


def test_a_slow_infisical_gives_up_within_its_budget(infisical: InfisicalStub) -> None:
    infisical.behaviour.delay_s = 3.0
    started = time.monotonic()
    with pytest.raises(SecretsUnavailable):
        settings_with_secrets()
    # 0.5 s a request, tried twice: the cold start gives up after about a second, not after 3 s a try.
    assert time.monotonic() - started < 2.0


def test_without_infisical_settings_it_is_never_called(
    infisical: InfisicalStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFISICAL_PROJECT_ID")
    assert settings_with_secrets().secrets_source == "environment"
    assert infisical.behaviour.requests == []


def test_no_secret_is_ever_printed(
    infisical: InfisicalStub,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    build_container: Callable[..., Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = [
        "db-password-XYZ",
        "sk-openai-XYZ",
        "tok-from-infisical",
        "qdrant-key-XYZ",
        stub_module.CLIENT_SECRET,
        stub_module.TOKEN,
    ]
    infisical.behaviour.secrets["DATABASE_URL"] = "postgresql://memplane:db-password-XYZ@127.0.0.1:9/x"
    infisical.behaviour.secrets["OPENAI_API_KEY"] = "sk-openai-XYZ"
    infisical.behaviour.secrets["QDRANT_API_KEY"] = "qdrant-key-XYZ"
    monkeypatch.setenv("MEMPLANE_DB_CONNECT_TIMEOUT", "0.5")
    monkeypatch.setenv("MEMPLANE_VECTOR_BACKEND", "qdrant")
    monkeypatch.setenv("QDRANT_URL", "http://127.0.0.1:9")
    seen: list[str] = []
    settings = settings_with_secrets()
    assert settings.qdrant_api_key is not None
    assert settings.qdrant_api_key.get_secret_value() == "qdrant-key-XYZ"  # fetched like the others
    seen += [repr(settings), str(settings), settings.model_dump_json()]
    for token in (None, "wrong", "tok-from-infisical"):
        seen.append(json.dumps(call("assemble", load_event("assemble_web.json"), token=token)))
    seen.append(json.dumps(call("assemble", load_event("health_web.json"))))
    wiring.reset()
    monkeypatch.setenv("INFISICAL_CLIENT_SECRET", "wrong-" + stub_module.CLIENT_SECRET)
    with pytest.raises(ConfigurationError) as refused:
        settings_with_secrets()
    seen.append(str(refused.value))
    monkeypatch.setenv("INFISICAL_CLIENT_SECRET", stub_module.CLIENT_SECRET)
    infisical.behaviour.status = 500
    for cached in Path.cwd().glob("memplane-*/memplane-secrets-*.json"):
        cached.unlink()
    with pytest.raises(SecretsUnavailable) as down:
        settings_with_secrets()
    seen.append(str(down.value))
    out = capsys.readouterr()
    seen += [out.out, out.err, caplog.text]
    seen += [str(r.__dict__) for r in caplog.records]
    everything = "\n".join(seen)
    assert "database_error" in everything  # the paths really ran
    for value in secrets:
        assert value not in everything, value


def planted(tmp_path: Path, values: dict[str, str], fetched_at: float | None = None) -> Path:
    """A cache file where memplane looks for one, as another user of a shared /tmp could leave it."""
    settings_with_secrets()  # a real cold start, to learn the file's name
    cache = next(tmp_path.glob("memplane-*/memplane-secrets-*.json"))
    body = {"fetched_at": time.time() if fetched_at is None else fetched_at, "values": values}
    cache.write_text(json.dumps(body))
    return cache


EVIL = {"OPENAI_BASE_URL": "http://attacker.example/v1", "OPENAI_API_KEY": "sk-planted"}


def cached_settings(infisical: InfisicalStub) -> Any:
    infisical.behaviour.status = 503  # Infisical down: the cache is all there is
    try:
        return settings_with_secrets()
    except SecretsUnavailable:
        return None


def test_a_cache_file_others_can_write_is_refused(infisical: InfisicalStub, tmp_path: Path) -> None:
    cache = planted(tmp_path, EVIL)
    cache.chmod(0o666)
    assert cached_settings(infisical) is None


def test_a_cache_dated_in_the_future_is_refused(infisical: InfisicalStub, tmp_path: Path) -> None:
    planted(tmp_path, EVIL, fetched_at=time.time() + 365 * 86400)  # would never expire
    assert cached_settings(infisical) is None


def test_a_planted_symlink_is_neither_followed_nor_written_through(
    infisical: InfisicalStub, tmp_path: Path
) -> None:
    cache = planted(tmp_path, {})
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"fetched_at": time.time(), "values": EVIL}))
    elsewhere.chmod(0o600)
    cache.unlink()
    cache.symlink_to(elsewhere)
    assert cached_settings(infisical) is None  # not read through the link
    infisical.behaviour.status = 200
    settings_with_secrets()  # a fresh fetch replaces the link with a file of its own
    assert not cache.is_symlink()
    assert json.loads(elsewhere.read_text())["values"] == EVIL  # the link's target was not written


def test_a_cache_directory_that_is_not_private_is_not_used(infisical: InfisicalStub, tmp_path: Path) -> None:
    cache = planted(tmp_path, EVIL)
    cache.parent.chmod(0o777)
    assert cached_settings(infisical) is None
    infisical.behaviour.status = 200
    settings_with_secrets()  # Infisical answers: served, but nothing is written into a directory others share
    assert json.loads(cache.read_text())["values"] == EVIL


def test_a_directory_planted_as_a_link_is_not_used(infisical: InfisicalStub, tmp_path: Path) -> None:
    target = tmp_path / "theirs"
    target.mkdir(mode=0o700)
    (tmp_path / f"memplane-{os.geteuid()}").symlink_to(target)
    infisical.behaviour.status = 200
    settings_with_secrets()
    assert list(target.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_cache_file_of_another_user_is_refused(infisical: InfisicalStub, tmp_path: Path) -> None:
    cache = planted(tmp_path, EVIL)
    os.chown(cache, 65534, 65534)  # nobody
    assert cached_settings(infisical) is None
