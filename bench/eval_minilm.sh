#!/usr/bin/env bash
# memplane-bench eval locomo with a real semantic embedder: all-MiniLM-L6-v2 served locally behind the
# OpenAI-compatible API, so the run needs no account and no network. Usage: bench/eval_minilm.sh DATA OUT
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: bench/eval_minilm.sh DATA OUT}
out=${2:?usage: bench/eval_minilm.sh DATA OUT}
port=${MINILM_PORT:-8199}

.venv-bench/bin/python bench/minilm_server.py --port "$port" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf -X POST "http://127.0.0.1:$port/v1/embeddings" -d '{"input": ["ready?"], "model": "m"}' -o /dev/null && break
  sleep 0.5
done

MEMPLANE_EMBEDDER=openai OPENAI_BASE_URL="http://127.0.0.1:$port/v1" \
MEMPLANE_EMBEDDING_MODEL=all-MiniLM-L6-v2 MEMPLANE_EMBEDDING_DIM=384 MEMPLANE_EXTRACTOR=rules \
  .venv/bin/memplane-bench eval locomo --data "$data" --out "$out"
