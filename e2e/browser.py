"""A user's browser tab, as far as Open WebUI's socket sees it: signs in to the socket with the user's
token, prints its session id, and clicks "confirm" on every confirmation dialog a Tool opens (Open
WebUI asks with `sio.call("events", ...)` and takes the answer from the acknowledgement).

Run with the Python that has Open WebUI (python-socketio): python browser.py URL TOKEN ANSWER
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import socketio


async def main(url: str, token: str, answer: bool) -> None:
    sio = socketio.AsyncClient()

    @sio.on("events")
    async def events(data: dict[str, Any]) -> Any:
        event = data.get("data") or {}
        print(json.dumps({"event": event.get("type"), "data": event.get("data")}), flush=True)
        return answer if event.get("type") == "confirmation" else None

    await sio.connect(url, socketio_path="/ws/socket.io", transports=["websocket"], auth={"token": token})
    await sio.emit("user-join", {"auth": {"token": token}})
    print(json.dumps({"session_id": sio.get_sid()}), flush=True)
    await sio.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "yes"))
