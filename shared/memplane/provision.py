"""What a deployment needs before it serves: its migrations applied, and the vector collection created
when Qdrant is the index. Run by `memplane migrate` (and `serve --migrate`) and the benchmarks'
throwaway services; never by a function."""

from __future__ import annotations

from memplane import wiring
from memplane.adapters.postgres import migrations, vector_graph
from memplane.settings import Settings


def prepare_storage(settings: Settings) -> list[str]:
    """Apply pending migrations, keep an HNSW graph in Postgres only when pgvector is the index, and
    create the Qdrant collection when Qdrant is."""
    url = wiring.database_url(settings)
    applied = migrations.apply(
        url, settings.migrations_dir or migrations.default_migrations_dir(), settings.embedding_dim
    )
    done = [f"migrations: {', '.join(m.name for m in applied) or 'nothing to apply'}"]
    done.append(migrations.pgvector_report(url))
    done.append(f"vector graph: {vector_graph.converge(url, keep=settings.vector_backend == 'pgvector')}")
    index = wiring.separate_index(settings)
    if index is not None:
        try:
            done.append(f"vector index: {index.ensure(settings.embedding_dim)}")
        finally:
            index.close()
    return done
