"""memplane in a real Open WebUI, end to end (`make e2e-openwebui`).

Starts memplane (embedded defaults, with a token), a stand-in model behind an OpenAI-compatible API,
and Open WebUI (the release `make e2e-openwebui` installed into .e2e/venv) on this machine; gives Open
WebUI a history first (a saved memory, a past chat), installs the filter and the Tool through Open
WebUI's API as an admin would, chats as a user, and checks what a user and an admin would see:

1. memory recalled across chats, and Open WebUI's own memory kept out of the prompt;
2. the status lines and citations stored with the chat;
3. a model on the deny list getting no memory, and its chat not saved;
4. `memplane import openwebui` bringing the saved memory and the past chat in, once;
5. the Tool listing what memory holds, and forgetting everything after the user's click.

Prints what it saw and writes it to e2e-openwebui.json; exits 1 on the first check that fails.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from standin_model import StandInModel

ROOT = Path(__file__).resolve().parents[1]
OWUI_BIN = ROOT / ".e2e" / "venv" / "bin"
MEMPLANE = ROOT / ".venv" / "bin" / "memplane"
TOKEN = "e2e-chat-token"
FILTER_ID = "memplane_memory"
TOOL_ID = "memplane_memory_tools"
MARCH = 1772442000  # 2026-03-02 09:00 UTC: the past chat, from before memplane was installed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, seconds: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{url} exited early; its log:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"{url} did not answer within {seconds:.0f} s; its log:\n{log.read_text()[-4000:]}")


class Check:
    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def __call__(self, name: str, ok: bool, detail: Any = None) -> None:
        self.seen[name] = detail if detail is not None else ok
        print(
            f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail is not None else ""), flush=True
        )
        if not ok:
            Path("e2e-openwebui.json").write_text(json.dumps(self.seen, indent=2, default=str))
            sys.exit(1)


class OpenWebUI:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.url, self.data_dir = url, data_dir

    def call(self, method: str, path: str, token: str, body: Any = None, timeout: float = 60) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = httpx.request(method, f"{self.url}{path}", json=body, timeout=timeout, headers=headers)
        if r.status_code >= 400:
            sys.exit(f"Open WebUI {method} {path} answered {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def chat(self, token: str, model: str, text: str, **extra: Any) -> dict[str, Any]:
        """A new chat of one message, as the web UI starts one (Open WebUI creates and saves it), and the
        chat as stored once the answer and the outlet filters are done."""
        user_id, answer_id = str(uuid.uuid4()), str(uuid.uuid4())
        user_message = {
            "id": user_id,
            "parentId": None,
            "childrenIds": [answer_id],
            "role": "user",
            "content": text,
            "timestamp": int(time.time()),
            "models": [model],
        }
        before = {c["id"] for c in self.call("GET", "/api/v1/chats/list", token)}
        # Streamed, as the web UI asks: Open WebUI runs a model's tool calls only on a stream.
        body = {
            "model": model,
            "messages": [{"role": "user", "content": text}],
            "stream": True,
            "parent_id": None,
            "user_message": user_message,
            "id": answer_id,
            "features": {"memory": True},
            **extra,
        }
        with httpx.stream(
            "POST",
            f"{self.url}/api/chat/completions",
            json=body,
            timeout=120,
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            if r.status_code >= 400:
                sys.exit(f"Open WebUI chat answered {r.status_code}: {r.read()[:500]!r}")
            for _ in r.iter_bytes():
                pass
        deadline = time.monotonic() + 30
        answer: dict[str, Any] = {}
        while time.monotonic() < deadline:
            new = [c["id"] for c in self.call("GET", "/api/v1/chats/list", token) if c["id"] not in before]
            if new:
                chat = self.call("GET", f"/api/v1/chats/{new[0]}", token)
                answer = chat["chat"]["history"]["messages"].get(answer_id, {})
                if answer.get("done") is not False and answer.get("content"):
                    return {"chat": chat, "answer": answer}
            time.sleep(0.5)
        sys.exit(f"the chat '{text}' was not answered within 30 s: {json.dumps(answer)[:3000]}")


def main() -> int:
    check = Check()
    work = Path(tempfile.mkdtemp(prefix="memplane-e2e-"))
    model = StandInModel()
    memplane_port, owui_port = free_port(), free_port()
    memplane_url = f"http://127.0.0.1:{memplane_port}"
    data_dir = work / "memplane"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMPLANE_", "DATABASE_URL", "OPENAI_"))}
    memplane_env = {**env, "MEMPLANE_DATA_DIR": str(data_dir), "MEMPLANE_API_TOKEN": TOKEN}
    logs = {"memplane": work / "memplane.log", "openwebui": work / "openwebui.log"}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        memplane = subprocess.Popen(
            [str(MEMPLANE), "serve", "--migrate", "--port", str(memplane_port)],
            env=memplane_env,
            stdout=logs["memplane"].open("wb"),
            stderr=subprocess.STDOUT,
        )
        processes.append(memplane)
        wait_for(f"{memplane_url}/health", 60, memplane, logs["memplane"])
        # Open WebUI keeps its memories' vectors in pgvector: a database of its own on memplane's Postgres.
        pg_url = _embedded_postgres_url(data_dir)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE owui_vectors")
        vectors_url = pg_url.replace("/postgres?", "/owui_vectors?")
        with psycopg.connect(vectors_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
        owui_env = {
            **env,
            "DATA_DIR": str(work / "openwebui"),
            "WEBUI_SECRET_KEY": "e2e-secret",
            "ENABLE_OLLAMA_API": "false",
            "OPENAI_API_BASE_URLS": model.url,
            "OPENAI_API_KEYS": "standin",
            # The stand-in runs on this machine: the admin marks its connection local.
            "OPENAI_API_CONFIGS": json.dumps({"0": {"connection_type": "local"}}),
            "ENABLE_API_KEYS": "true",
            "ENABLE_MEMORIES": "true",
            "VECTOR_DB": "pgvector",
            "PGVECTOR_DB_URL": vectors_url.replace("postgresql://", "postgresql+psycopg://"),
            "RAG_EMBEDDING_ENGINE": "openai",
            "RAG_EMBEDDING_MODEL": "standin-embed",
            "RAG_OPENAI_API_BASE_URL": model.url,
            "RAG_OPENAI_API_KEY": "standin",
            "USE_SLIM_DOCKER": "true",  # the slim requirements Open WebUI ships, as installed
            "OFFLINE_MODE": "true",
            "HF_HUB_OFFLINE": "1",
            "ENABLE_TITLE_GENERATION": "false",
            "ENABLE_FOLLOW_UP_GENERATION": "false",
            "ENABLE_TAGS_GENERATION": "false",
            "ENABLE_AUTOCOMPLETE_GENERATION": "false",
        }
        owui_process = subprocess.Popen(
            [str(OWUI_BIN / "open-webui"), "serve", "--host", "127.0.0.1", "--port", str(owui_port)],
            env=owui_env,
            cwd=work,
            stdout=logs["openwebui"].open("wb"),
            stderr=subprocess.STDOUT,
        )
        processes.append(owui_process)
        owui_url = f"http://127.0.0.1:{owui_port}"
        wait_for(f"{owui_url}/health", 240, owui_process, logs["openwebui"])
        owui = OpenWebUI(owui_url, work / "openwebui")
        version = owui.call("GET", "/api/version", "")["version"]
        check("Open WebUI started", True, version)
        run(check, owui, model, memplane_url, memplane_env)
    finally:
        for p in reversed(processes):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        model.close()
    Path("e2e-openwebui.json").write_text(json.dumps(check.seen, indent=2, default=str))
    print(f"all checks passed; figures in e2e-openwebui.json; logs in {work}")
    return 0


def run(
    check: Check, owui: OpenWebUI, model: StandInModel, memplane_url: str, memplane_env: dict[str, str]
) -> None:
    admin = owui.call(
        "POST",
        "/api/v1/auths/signup",
        "",
        {"name": "Admin", "email": "admin@example.com", "password": "e2e-admin-pw"},
    )
    admin_token = admin["token"]
    owui.call(
        "POST",
        "/api/v1/auths/add",
        admin_token,
        {"name": "Alice Doe", "email": "alice@example.com", "password": "e2e-alice-pw", "role": "user"},
    )
    alice = owui.call(
        "POST", "/api/v1/auths/signin", "", {"email": "alice@example.com", "password": "e2e-alice-pw"}
    )
    alice_token, alice_id = alice["token"], alice["id"]

    # The admin makes the connection's two models available to users (Admin Panel > Settings > Models).
    public = [{"principal_type": "user", "principal_id": "*", "permission": "read"}]
    for model_id in ("local-llama", "cloud-gpt"):
        owui.call(
            "POST",
            "/api/v1/models/create",
            admin_token,
            {
                "id": model_id,
                "base_model_id": None,
                "name": model_id,
                "meta": {},
                "params": {},
                "access_grants": public,
            },
        )

    # Open WebUI in use before memplane: a memory Alice saved, and a past chat.
    owui.call("POST", "/api/v1/memories/add", alice_token, {"content": "I am allergic to peanuts"})
    past = {
        "p1": {
            "id": "p1",
            "parentId": None,
            "childrenIds": ["p2"],
            "role": "user",
            "content": "I have a cat named Miso.",
            "timestamp": MARCH,
        },
        "p2": {
            "id": "p2",
            "parentId": "p1",
            "childrenIds": [],
            "role": "assistant",
            "content": "Miso is a lovely name for a cat!",
            "timestamp": MARCH + 4,
            "done": True,
        },
    }
    owui.call(
        "POST",
        "/api/v1/chats/new",
        alice_token,
        {
            "chat": {
                "title": "Cats",
                "models": ["local-llama"],
                "history": {"messages": past, "currentId": "p2"},
                "messages": list(past.values()),
            }
        },
    )

    # The admin installs memplane as docs/openwebui.md says.
    filter_code = (ROOT / "integrations" / "openwebui" / "memplane_filter.py").read_text()
    owui.call(
        "POST",
        "/api/v1/functions/create",
        admin_token,
        {
            "id": FILTER_ID,
            "name": "memplane memory",
            "content": filter_code,
            "meta": {"description": "Long-term memory from memplane"},
        },
    )
    owui.call(
        "POST",
        f"/api/v1/functions/id/{FILTER_ID}/valves/update",
        admin_token,
        {
            "assemble_url": f"{memplane_url}/assemble",
            "writeback_url": f"{memplane_url}/writeback",
            "api_token": TOKEN,
            "denied_models": "cloud-gpt",
        },
    )
    owui.call("POST", f"/api/v1/functions/id/{FILTER_ID}/toggle", admin_token)
    owui.call("POST", f"/api/v1/functions/id/{FILTER_ID}/toggle/global", admin_token)
    tool_code = (ROOT / "integrations" / "openwebui" / "memplane_tool.py").read_text()
    owui.call(
        "POST",
        "/api/v1/tools/create",
        admin_token,
        {
            "id": TOOL_ID,
            "name": "memplane memory tools",
            "content": tool_code,
            "meta": {"description": "What memory holds, remember, forget"},
            "access_grants": public,
        },
    )
    owui.call(
        "POST",
        f"/api/v1/tools/id/{TOOL_ID}/valves/update",
        admin_token,
        {
            "writeback_url": f"{memplane_url}/writeback",
            "cleanup_url": f"{memplane_url}/cleanup",
            "api_token": TOKEN,
            "filter_id": FILTER_ID,
        },
    )

    # 1. Remembered in one chat, recalled in another; Open WebUI's own memory stays out.
    owui.chat(alice_token, "local-llama", "My name is Alice and I live in Lisbon.")
    asked = len(model.requests)
    second = owui.chat(alice_token, "local-llama", "Where do I live?")
    prompt = model.systems()[asked]
    check("recalled across chats", "Lisbon" in second["answer"]["content"], second["answer"]["content"])
    check("memplane's block in the model's prompt", "<memplane-memory-" in prompt)
    check("Open WebUI's own memory kept out", "peanuts" not in prompt)

    # 2. What the user sees, as stored with the chat.
    statuses = [s.get("description") for s in second["answer"].get("statusHistory") or []]
    sources = [s.get("source", {}).get("name") for s in second["answer"].get("sources") or []]
    check("status lines stored", any(str(s).startswith("Recalled ") for s in statuses), statuses)
    check("citations stored", any(str(n).startswith("Memory: ") for n in sources), sources)

    # 3. A denied model: no memory in its prompt, its chat not saved.
    chunks_before = _export(memplane_url, alice_id)["chunks"]
    asked = len(model.requests)
    owui.chat(alice_token, "cloud-gpt", "Where do I live?")
    check("denied model gets no memory", "<memplane-memory-" not in model.systems()[asked])
    check(
        "denied model's chat not saved", len(_export(memplane_url, alice_id)["chunks"]) == len(chunks_before)
    )

    # 4. The history from before memplane, imported with an admin's API key, once.
    # Open WebUI's SQLite runs in WAL mode, so the file its API lets an admin download may miss the
    # newest memories: on the same host, the importer reads the database file itself.
    key = owui.call("POST", "/api/v1/auths/api_key", admin_token)["api_key"]
    database = str(owui.data_dir / "webui.db")
    imported = _import(owui.url, key, memplane_env, alice_id, database)
    again = _import(owui.url, key, memplane_env, alice_id, database)
    # memories chats turns stored facts others not-fed: the saved memory; the past chat and the two
    # live chats with the local model (already saved by the filter); the denied model's chat left out.
    check("import counts", imported["n"][:3] == [1, 4, 3] and imported["n"][6] == 1, imported["line"])
    check("past chat and memory stored", imported["n"][3] == 4, imported["line"])
    check("second import adds nothing", again["n"][3] == 0 and again["n"][4] == 0, again["line"])
    found = _assemble(memplane_url, alice_id, "what am I allergic to? what is my cat called?")
    check("imported memory and chat recalled", "peanuts" in found and "Miso" in found)

    # 5. The Tool, with a browser tab open that confirms.
    with _browser(owui.url, alice_token) as tab:
        listed = owui.chat(
            alice_token,
            "local-llama",
            "What do you remember about me?",
            tool_ids=[TOOL_ID],
            session_id=tab.session_id,
        )
        check(
            "the Tool lists memory",
            "Lisbon" in listed["answer"]["content"],
            listed["answer"]["content"][:200],
        )
        forgot = owui.chat(
            alice_token,
            "local-llama",
            "Please forget everything about me.",
            tool_ids=[TOOL_ID],
            session_id=tab.session_id,
        )
    dialogs = [e for e in tab.seen if e.get("event") == "confirmation"]
    check("the user was asked to confirm", len(dialogs) == 1, dialogs)
    check("confirmed forget", "Forgotten" in forgot["answer"]["content"], forgot["answer"]["content"][:200])
    status = _memplane(memplane_url, "/cleanup", {"export": {"client_id": alice_id}}).status_code
    check("nothing left after the forget", status == 404, status)


def _embedded_postgres_url(data_dir: Path) -> str:
    sys.path.insert(0, str(ROOT / "shared"))
    from memplane.adapters import embedded_postgres

    return embedded_postgres.start(data_dir)  # memplane serve's server, reused


def _memplane(memplane_url: str, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.post(f"{memplane_url}{path}", json=body, headers=headers, timeout=30)


def _export(memplane_url: str, client_id: str) -> dict[str, Any]:
    return dict(_memplane(memplane_url, "/cleanup", {"export": {"client_id": client_id}}).json())


def _assemble(memplane_url: str, client_id: str, query: str) -> str:
    body = {"client_id": client_id, "query": query, "limit": 20}
    return str(_memplane(memplane_url, "/assemble", body).json())


def _import(url: str, key: str, memplane_env: dict[str, str], user_id: str, database: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(MEMPLANE), "import", "openwebui", "--url", url, "--chats", "--openwebui-db", database],
        env={**memplane_env, "OPENWEBUI_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"memplane import failed:\n{done.stdout}\n{done.stderr}")
    print(done.stdout, flush=True)
    line = next(row for row in done.stdout.splitlines() if row.startswith(user_id))
    return {"line": line, "n": [int(n) for n in line.split()[1:]]}


class _browser:
    """The user's tab (browser.py, in Open WebUI's Python): its session id, and the dialogs it saw."""

    def __init__(self, url: str, token: str) -> None:
        self.args = [str(OWUI_BIN / "python"), str(Path(__file__).parent / "browser.py"), url, token, "yes"]
        self.seen: list[dict[str, Any]] = []

    def __enter__(self) -> _browser:
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.session_id = str(json.loads(self.process.stdout.readline())["session_id"])
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.seen.append(json.loads(line))

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
