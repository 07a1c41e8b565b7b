"""`memplane-bench eval locomo`: talk to a running memplane over HTTP, or start a throwaway one to talk to."""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memplane.progress import ProgressBar
from memplane.settings import Settings
from memplane_bench import locomo, multilingual


class HttpPoster:
    """POSTs JSON and returns the decoded reply; any non-2xx reply stops the evaluation with its error."""

    def __init__(self, base_url: str, token: str | None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"--url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            self.base_url + path, data=json.dumps(body).encode(), headers=self.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - URL from the operator
                reply: dict[str, Any] = json.loads(response.read())
                return reply
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{path} answered {exc.code}: {exc.read().decode(errors='replace')}") from exc


@contextmanager
def throwaway_service(settings: Settings) -> Iterator[str]:
    """A fresh memplane on an embedded Postgres in a temporary folder, served on a free loopback port."""
    from werkzeug.serving import make_server

    from memplane import wiring
    from memplane.adapters import embedded_postgres
    from memplane.platform.functions_framework import create_app
    from memplane.provision import prepare_storage

    # One line per request would drown the table.
    for name in ("werkzeug", "memplane.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="memplane-eval-") as tmp:
        settings = settings.model_copy(update={"data_dir": Path(tmp), "database_url": None})
        prepare_storage(settings)
        container = wiring.build(settings)
        server = make_server("127.0.0.1", 0, create_app(lambda: container), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            container.close()
            embedded_postgres.stop(Path(tmp))


def evaluate(
    settings: Settings,
    data: Path,
    url: str | None,
    out: Path | None,
    token: str | None,
    captions: bool,
    client_prefix: str | None = None,
    chat_ids: bool = True,
) -> dict[str, Any]:
    samples = locomo.load(data)
    # A fresh client per run by default, so no vectors from an older run (or embedder) are scored.
    # Reusing a prefix replays into the same clients, which stores nothing new: writeback is idempotent.
    prefix = client_prefix if client_prefix is not None else f"locomo-{int(time.time())}-"
    replay = locomo.build_replay(samples, prefix, captions=captions, chat_ids=chat_ids)
    started = time.perf_counter()
    if url is None:
        with throwaway_service(settings) as served:
            figures = locomo.run(replay, HttpPoster(served, None), ProgressBar())
        figures["service"] = {"url": "throwaway", "embedder": settings.embedder_kind}
    else:
        figures = locomo.run(replay, HttpPoster(url, token), ProgressBar())
        figures["service"] = {"url": url}
    figures["data"] = str(data)
    figures["chat_ids"] = chat_ids
    figures["seconds"] = round(time.perf_counter() - started, 1)
    print(locomo.table(figures))
    if out is not None:
        out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {out}")
    return figures


def evaluate_multilingual(
    settings: Settings, url: str | None, out: Path | None, token: str | None
) -> dict[str, Any]:
    """Recall@3 per language on memplane's multilingual set (see evaluation/multilingual.py)."""
    data = multilingual.load()
    prefix = f"ml-{int(time.time())}-"
    if url is None:
        with throwaway_service(settings) as served:
            figures = multilingual.run(data, HttpPoster(served, None), ProgressBar(), prefix)
        figures["service"] = {"url": "throwaway", "embedder": settings.embedder_kind}
    else:
        figures = multilingual.run(data, HttpPoster(url, token), ProgressBar(), prefix)
        figures["service"] = {"url": url}
    print(multilingual.table(figures))
    if out is not None:
        out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"figures written to {out}")
    return figures


def benchmark(
    settings: Settings,
    url: str | None,
    out: Path | None,
    token: str | None,
    clients: int,
    exchanges: int,
    queries: int,
) -> dict[str, Any]:
    """Latency of each function over HTTP; a throwaway service on embedded Postgres without ``url``."""
    from memplane_bench import latency

    if url is None:
        with throwaway_service(settings) as served:
            figures = latency.run(HttpPoster(served, None), clients, exchanges, queries)
    else:
        figures = latency.run(HttpPoster(url, token), clients, exchanges, queries)
    print(latency.table(figures))
    if out is not None:
        out.write_text(
            json.dumps(
                {
                    "service": url or "throwaway",
                    "embedder": settings.embedder_kind,
                    "extractor": settings.extractor_kind,
                    "functions": figures,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"figures written to {out}")
    return figures
