"""migrations/snapshot/schema.sql is today's schema: the migrations applied to an empty database."""

from __future__ import annotations

import shutil
from pathlib import Path

from memplane.adapters.postgres import migrations, schema


def test_the_snapshot_is_the_schema_the_migrations_build(server_url: str) -> None:
    built = schema.snapshot(server_url, migrations.default_migrations_dir())
    # If this fails, a migration changed the schema: `memplane schema --out migrations/snapshot/schema.sql`.
    assert built == schema.default_path().read_text()


def test_a_migration_that_changes_the_schema_without_a_new_snapshot_is_caught(
    server_url: str, tmp_path: Path
) -> None:
    for path in migrations.default_migrations_dir().glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "9999_a_new_column.sql").write_text("ALTER TABLE episodes ADD COLUMN mood text;\n")
    built = schema.snapshot(server_url, tmp_path)
    assert built != schema.default_path().read_text()
    assert "mood text" in built
