"""`memplane bundle`: generate a ready-to-deploy DigitalOcean Functions project from this repository.

The deployer reads only ``project.yml``, ``packages/``, ``lib/`` and ``.env`` and does not follow
symlinks, so the repository's own layout cannot be deployed as is. The bundle copies the root
``project.yml`` and, per function, its ``__main__.py``, a vendored copy of the ``memplane`` library,
the function's pinned requirements and the ``build.sh`` the Python runtime expects.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from memplane.errors import ConfigurationError

PACKAGE = "memory"
FUNCTIONS = ("assemble", "writeback", "cleanup")
LIMIT_MB = 45.0  # the platform's hard limit is 48 MB; fail before it

# What each function imports at run time. All three reach the store and an embedder (cleanup fills in
# missing vectors); httpx fetches secrets from Infisical; the openai client is needed whenever an
# OpenAI-compatible endpoint is configured.
_CORE = ("psycopg[binary]", "psycopg-pool", "pgvector", "pydantic", "pydantic-settings", "httpx", "openai")
REQUIREMENTS: dict[str, tuple[str, ...]] = {name: _CORE for name in FUNCTIONS}
# With MEMPLANE_VECTOR_BACKEND=qdrant every function needs the client: assemble searches, writeback
# upserts, cleanup reconciles. It brings numpy and grpcio (~32 MB zipped).
QDRANT = "qdrant-client"

# The runtime activates virtualenv/bin/activate_this.py, which `virtualenv` creates and `python -m venv`
# does not, and it looks in lib/python3.11/site-packages.
BUILD_SH = """#!/bin/bash
set -e
virtualenv --without-pip virtualenv
pip install -r requirements.txt --target virtualenv/lib/python3.11/site-packages
"""

# What qdrant-client's dependencies carry that nothing imports at run time (~6 MB zipped): numpy's
# tests and the compiled modules only its tests load (_simd, _*_tests), C headers, static libraries,
# f2py and distutils (build tools), type stubs, and the .proto sources of the generated gRPC modules.
# Not removed, because that breaks imports: numpy's other shared objects, and any dist-info
# (qdrant-client reads its own version from its package metadata). Runs in site-packages.
TRIM_SH = """
rm -rf numpy/tests numpy/*/tests numpy/_core/include numpy/f2py numpy/distutils numpy/_pyinstaller
rm -f numpy/_core/_simd.*.so numpy/_core/_*_tests.*.so
rm -rf qdrant_client/proto
find . \\( -name '*.pyi' -o -name '*.pxd' -o -name '*.a' \\) -type f -delete
"""

IGNORE = """__pycache__/
*.pyc
tests/
.env
"""

_EXCLUDED = shutil.ignore_patterns("__pycache__", "*.pyc", "evaluation", "bundle.py")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# An environment line of project.yml that only passes one setting through: `  NAME: "${NAME}"`.
_PASS_THROUGH = re.compile(r'^\s+([A-Za-z_][A-Za-z0-9_]*):\s*"\$\{\1\}"\s*$')

# Where the platform can forward the functions' logs (its LOG_DESTINATIONS, one JSON list in the
# project's environment), and the settings each kind needs; their values stay in the environment file.
LOG_DESTINATIONS: dict[str, str] = {
    "papertrail": '{"papertrail": {"token": "${PAPERTRAIL_TOKEN}"}}',
    "logtail": '{"logtail": {"token": "${LOGTAIL_TOKEN}"}}',
    "datadog": '{"datadog": {"endpoint": "${DATADOG_ENDPOINT}", "api_key": "${DATADOG_API_KEY}"}}',
}


@dataclass(frozen=True)
class Sizes:
    function: str
    zipped_mb: float


def repository_root() -> Path:
    return Path(__file__).resolve().parents[2]


def pinned(requirement: str) -> str:
    """``name==installed version`` so a deploy runs what was tested; unpinned if not installed here."""
    name = requirement.split("[", 1)[0]
    try:
        return f"{requirement}=={metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return requirement


def build(
    out: Path,
    root: Path | None = None,
    env_file: Path | None = None,
    log_destinations: tuple[str, ...] = (),
) -> list[str]:
    """Write the project into ``out`` (replacing it) and return the ${VAR} names the deployer would
    fail to resolve (see ``unresolved``)."""
    root = root or repository_root()
    file_values = _values_in(env_file) if env_file is not None else {}
    settings = {**os.environ, **file_values}
    qdrant = settings.get("MEMPLANE_VECTOR_BACKEND", "").strip() == "qdrant"
    library = root / "shared" / "memplane"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    project = only_set((root / "project.yml").read_text(), file_values)
    (out / "project.yml").write_text(with_log_destinations(project, log_destinations))
    for name in FUNCTIONS:
        target = out / "packages" / PACKAGE / name
        target.mkdir(parents=True)
        shutil.copy2(root / "functions" / name / "__main__.py", target / "__main__.py")
        shutil.copytree(library, target / "memplane", ignore=_EXCLUDED)
        wanted = (*REQUIREMENTS[name], QDRANT) if qdrant else REQUIREMENTS[name]
        (target / "requirements.txt").write_text("\n".join(pinned(r) for r in wanted) + "\n")
        trim = f"cd virtualenv/lib/python3.11/site-packages{TRIM_SH}" if qdrant else ""
        (target / "build.sh").write_text(BUILD_SH + trim)
        (target / "build.sh").chmod(0o755)
        (target / ".ignore").write_text(IGNORE)
    if env_file is not None:
        shutil.copy2(env_file, out / ".env")
    return unresolved((out / "project.yml").read_text(), file_values)


def variables(project: str) -> set[str]:
    """The ${VAR} names a project.yml uses, comments included: the deployer substitutes the raw text."""
    return set(_VARIABLE.findall(project))


def _resolves(name: str, file_values: dict[str, str]) -> bool:
    # The deployer's rule (functions-deployer, `process.env[name] || props[name]`): the deploy's own
    # environment first, then the project's .env; an empty value counts as missing and fails the deploy.
    return bool(os.environ.get(name) or file_values.get(name))


def unresolved(project: str, file_values: dict[str, str]) -> list[str]:
    """The ${VAR} names ``doctl serverless deploy`` would stop on, as it reads them."""
    return sorted(name for name in variables(project) if not _resolves(name, file_values))


def only_set(project: str, file_values: dict[str, str]) -> str:
    """project.yml without the environment lines whose setting has no value: memplane treats an
    unset setting as its default, and the deployer would refuse the empty one."""
    kept = []
    for line in project.splitlines():
        passed = _PASS_THROUGH.match(line)
        if passed is None or _resolves(passed.group(1), file_values):
            kept.append(line)
    return "\n".join(kept) + "\n"


def with_log_destinations(project: str, kinds: tuple[str, ...]) -> str:
    """Add the platform's LOG_DESTINATIONS (a JSON list, one entry per kind) to the project's environment."""
    if not kinds:
        return project
    unknown = sorted(set(kinds) - set(LOG_DESTINATIONS))
    if unknown:
        raise ConfigurationError(
            f"unknown log destination {', '.join(unknown)}; choose from {', '.join(LOG_DESTINATIONS)}"
        )
    value = "[" + ", ".join(LOG_DESTINATIONS[k] for k in kinds) + "]"
    added, found = re.subn(
        r"^environment:\n", f"environment:\n  LOG_DESTINATIONS: '{value}'\n", project, count=1, flags=re.M
    )
    if not found:
        raise ConfigurationError("project.yml has no top-level environment: to add LOG_DESTINATIONS to")
    return added


def _values_in(env_file: Path) -> dict[str, str]:
    values = {}
    for line in env_file.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.strip().startswith("#"):
            values[key.strip().removeprefix("export ").strip()] = value.split(" #", 1)[0].strip().strip("'\"")
    return values


def measure(out: Path) -> list[Sizes]:
    """Install each function's requirements for Linux x86_64 / CPython 3.11 and zip it, as deployed."""
    sizes = []
    with tempfile.TemporaryDirectory(prefix="memplane-bundle-") as tmp:
        installed: dict[str, Path] = {}  # functions with the same requirements share one install
        for name in FUNCTIONS:
            function_dir = out / "packages" / PACKAGE / name
            wanted = (function_dir / "requirements.txt").read_text()
            if wanted not in installed:
                venv = Path(tmp) / f"venv-{len(installed)}"
                _pip_install_for_linux(function_dir / "requirements.txt", venv / _SITE)
                if QDRANT in wanted:  # what build.sh removes after installing, on the platform
                    subprocess.run(["bash", "-c", TRIM_SH], cwd=venv / _SITE, check=True)  # noqa: S603, S607 - our own constant
                installed[wanted] = venv
            archive = Path(tmp) / f"{name}.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                _add_tree(zf, function_dir, Path("."))
                _add_tree(zf, installed[wanted], Path("virtualenv"))
            sizes.append(Sizes(name, round(archive.stat().st_size / 1_000_000, 1)))
    return sizes


_SITE = Path("lib/python3.11/site-packages")


def _add_tree(zf: zipfile.ZipFile, base: Path, prefix: Path) -> None:
    for path in sorted(base.rglob("*")):
        if path.is_file():
            zf.write(path, prefix / path.relative_to(base))


def _pip_install_for_linux(requirements: Path, target: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "--platform",
        "manylinux2014_x86_64",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--only-binary=:all:",
        "-r",
        str(requirements),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ConfigurationError(f"could not install {requirements} for Linux: {result.stderr.strip()}")
