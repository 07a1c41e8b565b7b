"""A local stand-in for a Qdrant server: the REST routes memplane uses, answered by Qdrant's local mode.

No Qdrant server can be installed here, so this serves qdrant-client's own local implementation over
HTTP. memplane's adapter then talks to it exactly as to Qdrant Cloud (URL, API key header, REST JSON),
and a test can make any route fail, or stop answering, at any moment.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import QdrantClient, models

from tests.http_stub import JsonHandler, StubServer

_ROUTE = re.compile(r"^/collections/(?P<name>[^/?]+)(?P<rest>/[^?]*)?")


@dataclass
class QdrantBehaviour:
    failing: set[str] = field(default_factory=set)  # operations answered with HTTP 500
    hanging: set[str] = field(default_factory=set)  # operations that never get an answer
    api_key: str | None = None
    calls: list[str] = field(default_factory=list)
    # Run once, when the next call of that operation is done but not yet answered.
    meanwhile: dict[str, Callable[[], None]] = field(default_factory=dict)


class QdrantStub(StubServer):
    def __init__(self) -> None:
        self.behaviour = QdrantBehaviour()
        self.local = QdrantClient(":memory:")
        # Local mode has no cluster: the collection's cluster settings as a server would keep them.
        self.cluster: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        self.release = threading.Event()  # set to let hanging requests end (at teardown)
        stub = self

        class Handler(JsonHandler):
            def _serve(self) -> None:
                body = self.read_json() if self.command in ("PUT", "POST", "PATCH") else {}
                match = _ROUTE.match(self.path)
                if match is None:
                    self.reply(200, {"title": "qdrant stand-in", "version": "1.12.0"})
                    return
                operation = stub._operation(self.command, match.group("rest") or "")
                stub.behaviour.calls.append(operation)
                if stub.behaviour.api_key and self.headers.get("api-key") != stub.behaviour.api_key:
                    self.reply(403, {"status": {"error": "forbidden"}})
                elif operation in stub.behaviour.hanging:
                    stub.release.wait(30)
                elif operation in stub.behaviour.failing:
                    self.reply(500, {"status": {"error": "stand-in failure"}, "time": 0})
                else:
                    with stub._lock:
                        result = stub._answer(operation, match.group("name"), body)
                    meanwhile = stub.behaviour.meanwhile.pop(operation, None)
                    if meanwhile is not None:
                        meanwhile()
                    self.reply(200, {"result": result, "status": "ok", "time": 0.0})

            do_GET = do_PUT = do_POST = do_PATCH = _serve

        super().__init__(Handler)

    def start(self) -> QdrantStub:
        super().start()
        return self

    def stop(self) -> None:
        self.release.set()
        super().stop()

    def point_ids(self, collection: str = "memplane") -> set[str]:
        with self._lock:
            records, _ = self.local.scroll(collection, limit=1_000_000, with_payload=False)
        return {str(r.id) for r in records}

    @staticmethod
    def _operation(method: str, rest: str) -> str:
        return {
            ("GET", "/exists"): "exists",
            ("GET", ""): "get",
            ("PUT", ""): "create",
            ("PATCH", ""): "update",
            ("PUT", "/index"): "index",
            ("PUT", "/points"): "upsert",
            ("POST", "/points/delete"): "delete",
            ("POST", "/points/query"): "query",
            ("POST", "/points/scroll"): "scroll",
        }.get((method, rest), f"{method} {rest}")

    def _answer(self, operation: str, name: str, body: dict[str, Any]) -> Any:
        local = self.local
        done = {"operation_id": 0, "status": "completed"}
        if operation == "exists":
            return {"exists": local.collection_exists(name)}
        if operation == "get":
            info = local.get_collection(name).model_dump(mode="json")
            info["config"]["params"].update(self.cluster.get(name, {}))
            return info
        if operation == "create":
            vectors = models.VectorParams.model_validate(body["vectors"])
            local.create_collection(name, vectors_config=vectors)
            defaults = {"shard_number": 1, "replication_factor": 1, "write_consistency_factor": 1}
            self.cluster[name] = {k: body.get(k) or v for k, v in defaults.items()}
            return True
        if operation == "update":
            changed = {k: v for k, v in body.get("params", {}).items() if v is not None}
            self.cluster.setdefault(name, {}).update(changed)
            return True
        if operation == "index":
            return done  # local mode has no payload indexes
        if operation == "upsert":
            local.upsert(name, points=[models.PointStruct.model_validate(p) for p in body["points"]])
            return done
        if operation == "delete":
            selector = models.FilterSelector(filter=models.Filter.model_validate(body["filter"]))
            local.delete(name, points_selector=selector)
            return done
        if operation == "query":
            request = models.QueryRequest.model_validate(body)
            found = local.query_points(
                name, query=request.query, query_filter=request.filter, limit=request.limit
            )
            return found.model_dump(mode="json")
        if operation == "scroll":
            records, following = local.scroll(
                name,
                scroll_filter=models.Filter.model_validate(body["filter"]) if body.get("filter") else None,
                limit=body["limit"],
                offset=body.get("offset"),
                with_payload=body.get("with_payload", True),
            )
            return {"points": [r.model_dump(mode="json") for r in records], "next_page_offset": following}
        raise AssertionError(f"the stand-in does not serve {operation} for {name}")
