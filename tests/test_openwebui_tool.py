"""The Open WebUI Tool, loaded and called as Open WebUI loads and calls a Tool, against memplane over HTTP."""

from __future__ import annotations

import asyncio
import inspect
import re
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, get_type_hints

import psycopg
import pytest
from pydantic import BaseModel, Field, create_model

from tests.test_openwebui_filter import LOCAL_MODEL, USER, make_filter, outlet_body, owui

TOOL = Path(__file__).parents[1] / "integrations" / "openwebui" / "memplane_tool.py"
BOB = {"id": "owui-user-2", "name": "Bob", "email": "bob@example.com", "role": "user"}
METADATA = {"chat_id": "chat-9", "message_id": "m-tool", "session_id": "sess-1"}


def load_tools(base: str) -> Any:
    """Open WebUI executes the pasted file as a new module, instantiates Tools and sets its valves."""
    module = ModuleType("tool_memplane")
    exec(compile(TOOL.read_text(), str(TOOL), "exec"), module.__dict__)  # noqa: S102 - as Open WebUI does
    tools = module.Tools()
    tools.valves = tools.Valves(writeback_url=f"{base}/writeback", cleanup_url=f"{base}/cleanup")
    return tools


def specs(tools: Any) -> dict[str, dict[str, Any]]:
    """What the model is offered, built as open_webui/utils/tools.py builds it: every callable attribute
    not starting with "__" and not a class, its signature made into a model, "__" parameters dropped."""
    found = {}
    for name in dir(tools):
        attr = getattr(tools, name)
        if name.startswith("__") or not callable(attr) or inspect.isclass(attr):
            continue
        hints = get_type_hints(attr)
        described = dict(re.findall(r":param (\w+):\s*(.+)", attr.__doc__ or ""))
        fields: dict[str, Any] = {}
        for pname, param in inspect.signature(attr).parameters.items():
            default = param.default if param.default is not param.empty else ...
            if pname in described and not pname.startswith("__"):
                fields[pname] = (hints.get(pname, Any), Field(default, description=described[pname]))
            else:
                fields[pname] = (hints.get(pname, Any), default)
        model: type[BaseModel] = create_model(name, **fields)
        schema = model.model_json_schema()
        props = {k: v for k, v in schema.get("properties", {}).items() if not k.startswith("__")}
        found[name] = {"description": (attr.__doc__ or "").split(":param")[0].strip(), "parameters": props}
    return found


class Browser:
    """The user at the chat window, as ``__event_call__`` reaches them: Open WebUI sends the event to
    the browser over its socket and returns what the dialog answered (True, False, or an error object
    when the tab is gone or the dialog timed out: open_webui/socket/main.py, get_event_call)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[dict[str, Any]] = []

    async def __call__(self, event: dict[str, Any]) -> Any:
        self.asked.append(event)
        return self.answer


def call(
    tools: Any,
    name: str,
    user: dict[str, Any] = USER,
    browser: Browser | None = None,
    model: dict[str, Any] = LOCAL_MODEL,
    **arguments: Any,
) -> str:
    """Open WebUI passes the model's arguments plus the extra parameters the function declares;
    ``__event_call__`` is None without a browser session (a call through the API)."""
    function: Callable[..., Any] = getattr(tools, name)
    extra = {
        "__user__": dict(user),
        "__metadata__": METADATA,
        "__id__": "memplane",
        "__event_emitter__": None,
        "__event_call__": browser,
        "__model__": model,
    }
    accepted = {k: v for k, v in extra.items() if k in inspect.signature(function).parameters}
    result: str = asyncio.run(partial(function, **accepted)(**arguments))
    return result


def test_the_model_is_offered_five_tools_none_of_which_can_name_another_user(memplane_url: str) -> None:
    offered = specs(load_tools(memplane_url))
    assert set(offered) == {
        "what_do_you_remember",
        "remember",
        "forget_fact",
        "forget_this_chat",
        "forget_everything",
    }
    assert {name: set(s["parameters"]) for name, s in offered.items()} == {
        "what_do_you_remember": set(),
        "remember": {"fact"},
        "forget_fact": {"key"},
        "forget_this_chat": set(),
        "forget_everything": set(),  # no argument the model could fill in to confirm for the user
    }
    assert all(s["description"] for s in offered.values())
    assert offered["remember"]["parameters"]["fact"]["description"].startswith("What to remember")


def test_see_remember_and_forget_through_the_tool(memplane_url: str, db: psycopg.Connection[Any]) -> None:
    tools = load_tools(memplane_url)
    assert call(tools, "what_do_you_remember") == "I don't remember anything about you yet."

    asyncio.run(
        owui(make_filter(memplane_url).outlet, outlet_body(), __user__=USER)
    )  # a chat, as the filter saves it
    asyncio.run(owui(make_filter(memplane_url).outlet, outlet_body(), __user__=BOB))
    listed = call(tools, "what_do_you_remember")
    assert "- location: Lisbon" in listed
    assert "- name: Alice" in listed

    assert call(tools, "remember", fact="I am allergic to peanuts") == "Remembered."
    assert "- allergy:peanuts: allergic to peanuts" in call(tools, "what_do_you_remember")

    yes = Browser(True)
    assert call(tools, "forget_fact", browser=yes, key="allergy:peanuts").startswith("Forgotten")
    assert yes.asked[0]["type"] == "confirmation"
    assert "allergy:peanuts" in yes.asked[0]["data"]["message"]
    assert "- allergy:peanuts" not in call(tools, "what_do_you_remember")

    assert call(tools, "forget_this_chat", browser=yes).startswith("Forgotten")
    assert call(tools, "forget_everything", browser=yes).startswith("Forgotten")
    assert call(tools, "what_do_you_remember") == "I don't remember anything about you yet."
    # Only the calling user's memory: Bob's is untouched.
    assert "- location: Lisbon" in call(tools, "what_do_you_remember", user=BOB)
    alice = db.execute("SELECT count(*) FROM memory_entries WHERE client_id = %s", (USER["id"],)).fetchone()
    assert alice == (0,)


def test_the_tool_says_when_memplane_is_unreachable() -> None:
    tools = load_tools("http://127.0.0.1:9")
    assert call(tools, "what_do_you_remember").startswith("Memory is unavailable right now")
    assert call(tools, "forget_everything", browser=Browser(True)).startswith(
        "Memory is unavailable right now"
    )


class OpenWebUIFunctions:
    """Open WebUI's Functions table as the Tool reads it (open_webui/models/functions.py): the memplane
    filter's valves and each user's valves for it, decrypted."""

    def __init__(self, admin: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
        self.admin, self.users = admin, users

    async def get_function_valves_by_id(self, id: str) -> dict[str, Any] | None:
        return self.admin if id == "memplane_memory" else None

    async def get_user_valves_by_id_and_user_id(self, id: str, user_id: str) -> dict[str, Any] | None:
        return self.users.get(user_id, {}) if id == "memplane_memory" else None


def inside_open_webui(monkeypatch: pytest.MonkeyPatch, functions: OpenWebUIFunctions) -> None:
    for name in ("open_webui", "open_webui.models"):
        monkeypatch.setitem(sys.modules, name, ModuleType(name))
    module = ModuleType("open_webui.models.functions")
    module.Functions = functions  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "open_webui.models.functions", module)


def test_remember_follows_the_users_opt_out_in_the_filter(
    memplane_url: str, db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    inside_open_webui(monkeypatch, OpenWebUIFunctions({"enabled": True}, {USER["id"]: {"enabled": False}}))
    tools = load_tools(memplane_url)
    assert call(tools, "remember", fact="I am allergic to peanuts").startswith("Nothing was remembered")
    assert db.execute("SELECT count(*) FROM memory_entries").fetchone() == (0,)
    assert call(tools, "remember", user=BOB, fact="I am allergic to peanuts") == "Remembered."


def test_a_persona_remembers_and_recalls_in_its_own_space(
    memplane_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside_open_webui(monkeypatch, OpenWebUIFunctions({"spaces": "pirate-captain"}, {}))
    tools = load_tools(memplane_url)
    persona = {"id": "pirate-captain", "owned_by": "ollama", "connection_type": "local"}
    assert call(tools, "remember", model=persona, fact="my parrot is called Polly") == "Remembered."
    assert "Polly" not in call(tools, "what_do_you_remember")
    assert "Polly" in call(tools, "what_do_you_remember", model=persona)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Open WebUI calls the pydantic v1 name
def test_the_tools_secrets_are_password_fields() -> None:
    module = ModuleType("tool_memplane")
    exec(compile(TOOL.read_text(), str(TOOL), "exec"), module.__dict__)  # noqa: S102 - as Open WebUI does
    spec = module.Tools.Valves.schema()["properties"]
    assert spec["api_token"]["input"] == {"type": "password"}
    assert spec["whisk_secret"]["input"] == {"type": "password"}
