"""`memplane-bench eval | bench`: retrieval quality and speed, measured through memplane's HTTP API.

A development tool installed beside memplane (never deployed: the functions hold only what they run).
It depends on memplane; memplane knows nothing of it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from memplane.errors import ConfigurationError, MemplaneError
from memplane.settings import Settings
from memplane.wiring import settings_with_secrets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memplane-bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("bench", help="end-to-end latency of each function against its SLA")
    bench.add_argument("--url", help="a running memplane (default: start a throwaway one)")
    bench.add_argument(
        "--token",
        help="bearer token for --url; its cleanup step needs the operator's "
        "(default: $MEMPLANE_OPERATOR_TOKEN, else $MEMPLANE_API_TOKEN)",
    )
    bench.add_argument("--out", type=Path, help="write the figures to this JSON file")
    bench.add_argument("--clients", type=int, default=5)
    bench.add_argument("--exchanges", type=int, default=100, help="writebacks per client")
    bench.add_argument("--queries", type=int, default=300, help="assemble calls in all")
    bench.add_argument(
        "--scale", action="store_true", help="latency as one client's memory grows (COPY-seeded)"
    )
    bench.add_argument(
        "--load", action="store_true", help="memplane serve under many concurrent callers (memory, errors)"
    )
    bench.add_argument(
        "--capacity",
        action="store_true",
        help="storage per chunk, Postgres work per call, turns a second at saturation (sizing)",
    )
    bench.add_argument(
        "--replica", action="store_true", help="a read-only node's lag as a user meets it after writing"
    )
    bench.add_argument("--rounds", type=int, default=300, help="--replica: writebacks, each then asked")
    bench.add_argument("--callers", type=int, default=32, help="--load: concurrent callers")
    bench.add_argument(
        "--capacity-callers", default="16,32,64", help="--capacity: concurrent callers at saturation"
    )
    bench.add_argument("--data", type=Path, help="--scale, --capacity: LoCoMo-format conversations")
    bench.add_argument("--points", default="10000,100000", help="--scale: heavy-client sizes")
    bench.add_argument("--million", action="store_true", help="--scale: add the 1,000,000-chunk point")
    bench.add_argument("--dims", default="384,1536", help="--scale, --capacity: embedding sizes")
    bench.add_argument("--backends", default="pgvector,qdrant", help="--scale, --capacity: vector backends")
    bench.add_argument(
        "--seconds",
        type=float,
        help="--scale, --capacity: each saturation run this long (10); --load: this long (60)",
    )
    bench.add_argument(
        "--mem0", action="store_true", help="--scale: mem0 beside memplane (pip install -e '.[bench]')"
    )
    bench.add_argument("--mem0-queries", type=int, default=100, help="--scale: searches per client for mem0")
    bench.add_argument("--chart", type=Path, help="--scale: write a PNG chart here (needs matplotlib)")
    evaluation = commands.add_parser("eval", help="measure retrieval through the HTTP API")
    evaluation.add_argument("dataset", choices=["locomo", "multilingual"])
    evaluation.add_argument("--data", type=Path, help="locomo: a LoCoMo JSON file")
    evaluation.add_argument("--url", help="a running memplane (default: start a throwaway one)")
    evaluation.add_argument(
        "--token", help="bearer token for --url (default: $MEMPLANE_OPERATOR_TOKEN, else $MEMPLANE_API_TOKEN)"
    )
    evaluation.add_argument("--out", type=Path, help="write the figures to this JSON file")
    evaluation.add_argument("--no-captions", action="store_true", help="leave photo captions out")
    evaluation.add_argument("--client-prefix", help="reuse clients of an earlier run (default: fresh)")
    evaluation.add_argument(
        "--no-chat-ids", action="store_true", help="locomo: replay as a caller that sends no chat ids"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("httpx", "httpx2", "werkzeug"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        settings = settings_with_secrets()
        if args.command == "eval":
            return run_eval(settings, args)
        return run_bench(settings, args)
    except MemplaneError as exc:
        print(f"memplane-bench: {exc.code}: {exc.message}", file=sys.stderr)
        return 2


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    from memplane_bench.runner import benchmark

    if args.scale:
        return run_scale(args)
    if args.capacity:
        return run_capacity(args)
    if args.replica:
        return run_replica(args)
    if args.load:
        return run_load(args)
    token = args.token or _default_token(settings)
    benchmark(settings, args.url, args.out, token, args.clients, args.exchanges, args.queries)
    return 0


def run_load(args: argparse.Namespace) -> int:
    from memplane_bench import load

    figures = load.run(seconds=args.seconds or 60.0, callers=args.callers)
    _report(load.table(figures), figures, args.out)
    return 1 if figures["errors"] else 0


def run_replica(args: argparse.Namespace) -> int:
    from memplane_bench import replica_lag

    figures = replica_lag.run(args.rounds)
    _report(replica_lag.table(figures), figures, args.out)
    return 0


def run_capacity(args: argparse.Namespace) -> int:
    from memplane_bench import capacity

    if args.data is None:
        print("memplane-bench: --capacity needs --data, a LoCoMo-format JSON file", file=sys.stderr)
        return 2
    options = capacity.Options(
        data=args.data,
        dims=tuple(int(d) for d in args.dims.split(",")),
        backends=tuple(args.backends.split(",")),
        callers=tuple(int(c) for c in args.capacity_callers.split(",")),
        seconds=args.seconds or 10.0,
    )
    results = capacity.run(options)
    _report(capacity.table(results), results, args.out)
    return 0


def run_scale(args: argparse.Namespace) -> int:
    from memplane_bench import scale

    if args.data is None:
        print(
            "memplane-bench: --scale needs --data, a LoCoMo-format JSON file (the text to seed)",
            file=sys.stderr,
        )
        return 2
    points = tuple(int(p) for p in args.points.split(",")) + ((1_000_000,) if args.million else ())
    options = scale.Options(
        data=args.data,
        points=points,
        dims=tuple(int(d) for d in args.dims.split(",")),
        backends=tuple(args.backends.split(",")),
        queries=args.queries,
        seconds=args.seconds or 10.0,
        mem0=args.mem0,
        mem0_queries=args.mem0_queries,
    )
    results = scale.run(options)
    _report(scale.table(results), results, args.out)
    if args.chart is not None:
        scale.chart(results, args.chart)
        print(f"chart written to {args.chart}")
    return 0


def run_eval(settings: Settings, args: argparse.Namespace) -> int:
    from memplane_bench.runner import evaluate, evaluate_multilingual

    token = args.token or _default_token(settings)
    if args.dataset == "multilingual":
        evaluate_multilingual(settings, args.url, args.out, token)
        return 0
    if args.data is None:
        raise ConfigurationError("memplane-bench eval locomo needs --data: a LoCoMo JSON file")
    evaluate(
        settings,
        args.data,
        args.url,
        args.out,
        token,
        captions=not args.no_captions,
        client_prefix=args.client_prefix,
        chat_ids=not args.no_chat_ids,
    )
    return 0


def _report(text: str, figures: object, out: Path | None) -> None:
    """The table on the terminal, and the figures as JSON where asked."""
    print(text)
    if out is not None:
        out.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {out}")


def _default_token(settings: Settings) -> str | None:
    """The operator's token when set (it reaches everything, the full cleanup run included)."""
    for token in (settings.operator_token, settings.api_token):
        if token is not None:
            return token.get_secret_value().split(",")[0].strip()
    return None


if __name__ == "__main__":
    raise SystemExit(main())
