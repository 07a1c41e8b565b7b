"""`memplane bundle`: generate a ready-to-deploy DigitalOcean Functions project from this repository.

The deployer reads only ``project.yml``, ``packages/``, ``lib/`` and ``.env`` and does not follow
symlinks, so the repository's own layout cannot be deployed as is. The bundle copies the root
``project.yml`` and, per function, its ``__main__.py``, a vendored copy of the ``memplane`` library and
its dependencies, already installed for the runtime (Linux x86_64, CPython 3.11) in the virtualenv
layout the runtime activates, with bytecode.

Why install here rather than with ``--remote-build``: functions-deployer (``src/deploy.ts``) sends a
remotely built function to the builder and returns ``processRemoteResponse(...)`` for it; only
``deployActionFromCodeOrSequence``, the path of a function deployed from local code, calls
``deployTriggers``. A remote build therefore never creates the ``cleanup-nightly`` trigger (doctl
issues #1474, #1868). A function folder with no ``build.sh``, ``build.cmd`` or ``package.json`` is
zipped as it is (``findSpecialFile`` -> ``identify`` -> ``autozipBuilder``) and deployed from code, so
``doctl serverless deploy build/do`` creates the trigger.
"""

from __future__ import annotations

import compileall
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from memplane import envfile
from memplane.errors import ConfigurationError

PACKAGE = "memory"
FUNCTIONS = ("assemble", "writeback", "cleanup")
LIMIT_MB = 45.0  # the platform's hard limit is 48 MB; fail before it
DEPLOY_COMMAND = "doctl serverless deploy {out}"

# What each function imports at run time. All three reach the store and an embedder (cleanup fills in
# missing vectors); httpx fetches secrets from Infisical; the openai client is needed whenever an
# OpenAI-compatible endpoint is configured.
_CORE = (
    "psycopg[binary]",
    "psycopg-pool",
    "pgvector",
    "pydantic",
    "pydantic-settings",
    "httpx",
    "openai",
    "json5",
)
REQUIREMENTS: dict[str, tuple[str, ...]] = {name: _CORE for name in FUNCTIONS}
# With MEMPLANE_VECTOR_BACKEND=qdrant every function needs the client: assemble searches, writeback
# upserts, cleanup reconciles. It brings numpy and grpcio (~32 MB zipped).
QDRANT = "qdrant-client"

# The runtime runs `virtualenv/bin/activate_this.py` when the function has a `virtualenv/` folder and
# refuses to start without it ("Invalid virtualenv"); the file the `virtualenv` tool writes puts
# lib/python3.11/site-packages first on sys.path. This is that, without the shell parts.
ACTIVATE_THIS = """\"\"\"Put this virtualenv's site-packages first on sys.path (run at start).\"\"\"
import os
import site
import sys

base = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
before = list(sys.path)
site.addsitedir(os.path.join(base, "lib", "python3.11", "site-packages"))
sys.path[:] = [p for p in sys.path if p not in before] + before
sys.real_prefix = sys.prefix
sys.prefix = base
"""

# What the installed dependencies carry that nothing imports at run time: console scripts (their
# shebang names this machine's Python), and for qdrant-client (~6 MB zipped) numpy's tests and the
# compiled modules only its tests load (_simd, _*_tests), C headers, static libraries, f2py and
# distutils (build tools), type stubs, and the .proto sources of the generated gRPC modules. Not
# removed, because that breaks imports: numpy's other shared objects, and any dist-info (qdrant-client
# reads its own version from its package metadata). Runs in site-packages.
TRIM_SH = """
rm -rf bin
rm -rf numpy/tests numpy/*/tests numpy/_core/include numpy/f2py numpy/distutils numpy/_pyinstaller
rm -f numpy/_core/_simd.*.so numpy/_core/_*_tests.*.so
rm -rf qdrant_client/proto
find . \\( -name '*.pyi' -o -name '*.pxd' -o -name '*.a' \\) -type f -delete
"""
SITE = Path("virtualenv/lib/python3.11/site-packages")

# functions-deployer zips every file of a function folder except these (src/util.ts,
# SYSTEM_EXCLUDE_PATTERNS, and getIgnores' fixed entries): a dependency file they match would be
# missing on the platform, so `--check` names any.
_DEPLOYER_SKIPS = (".ignore", "build.sh", "build.cmd", "__deployer__.zip", ".gitignore", ".DS_Store")
_DEPLOYER_SKIP_PARTS = (".nimbella", ".deployed", "_tmp_", ".#")

# What only the command line runs: the bundle itself and the importer from Open WebUI.
_EXCLUDED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "bundle.py", "envfile.py", "openwebui_import.py", "openwebui.py", "importing.py"
)
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
    *,
    shell: Mapping[str, str],
    root: Path | None = None,
    env_file: Path | None = None,
    log_destinations: tuple[str, ...] = (),
    install: bool = True,
) -> list[str]:
    """Write the project into ``out`` (replacing it) and return the ${VAR} names the deployer would
    fail to resolve (see ``unresolved``). ``shell``: the environment ``doctl serverless deploy`` will
    run in, which the deployer reads before the project's .env. ``install=False`` leaves the
    dependencies out (tests of the project's text; such a bundle does not run on the platform)."""
    root = root or repository_root()
    values = DeployValues(shell, envfile.intended(env_file.read_text()) if env_file is not None else {})
    qdrant = values.get("MEMPLANE_VECTOR_BACKEND").strip() == "qdrant"
    library = root / "shared" / "memplane"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    project = with_log_destinations(only_set((root / "project.yml").read_text(), values), log_destinations)
    (out / "project.yml").write_text(project)
    wanted = (*_CORE, QDRANT) if qdrant else _CORE
    with tempfile.TemporaryDirectory(prefix="memplane-bundle-") as tmp:
        site = Path(tmp) / "site-packages"
        if install:
            install_for_runtime([pinned(r) for r in wanted], site)
        for name in FUNCTIONS:
            target = out / "packages" / PACKAGE / name
            target.mkdir(parents=True)
            shutil.copy2(root / "functions" / name / "__main__.py", target / "__main__.py")
            shutil.copytree(library, target / "memplane", ignore=_EXCLUDED)
            _compile(target / "memplane")
            if install:
                shutil.copytree(site, target / SITE)
                (target / "virtualenv" / "bin").mkdir()
                (target / "virtualenv" / "bin" / "activate_this.py").write_text(ACTIVATE_THIS)
    if env_file is not None:
        # Only what the project uses, quoted so the deployer's dotenv reads each value whole; 0600: secrets.
        used = {k: v for k, v in values.file.items() if k in variables(project) and v}
        (out / ".env").write_text(envfile.render(used))
        (out / ".env").chmod(0o600)
    return unresolved(project, values)


def install_for_runtime(requirements: list[str], site: Path) -> None:
    """Install wheels built for the runtime (Linux x86_64, CPython 3.11) into ``site``, trimmed and
    compiled. Only wheels: nothing is compiled here for another platform."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(site),
        "--platform",
        "manylinux2014_x86_64",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--only-binary=:all:",
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ConfigurationError(
            f"could not install {' '.join(requirements)} for Linux: {result.stderr.strip()}"
        )
    subprocess.run(["bash", "-c", TRIM_SH], cwd=site, check=True)  # noqa: S603, S607 - our own constant
    _compile(site, sourceless=True)


def _compile(tree: Path, sourceless: bool = False) -> None:
    """Bytecode, so a cold start imports instead of compiling (qdrant-client: 0.6 s against 1.1 s).
    Unchecked hashes: a zip keeps no exact modification times for Python to compare with.

    ``sourceless`` (the dependencies) keeps only the bytecode, in place of each module: with Qdrant the
    deployer's zip of sources and bytecode is 48.6 MB, over the platform's 48 MB; bytecode alone is 41.8 MB.
    A traceback inside a dependency then names file and line without the line's text; memplane's own
    modules keep their sources."""
    if sys.version_info[:2] != (3, 11):
        # Another Python's bytecode would be ignored by the runtime's 3.11: ship sources alone.
        print(
            f"note: bytecode needs Python 3.11 (this is {sys.version.split()[0]}); shipping sources",
            file=sys.stderr,
        )
        return
    compileall.compile_dir(
        tree,
        quiet=2,
        workers=0,
        legacy=sourceless,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if sourceless:
        for source in tree.rglob("*.py"):
            if source.with_suffix(".pyc").exists():
                source.unlink()


def variables(project: str) -> set[str]:
    """The ${VAR} names a project.yml uses, comments included: the deployer substitutes the raw text."""
    return set(_VARIABLE.findall(project))


@dataclass(frozen=True)
class DeployValues:
    """The values a deploy substitutes, as the deployer looks them up (functions-deployer,
    `process.env[name] || props[name]`): the deploy's own environment first, then the project's .env;
    an empty value counts as missing and fails the deploy."""

    shell: Mapping[str, str]
    file: Mapping[str, str]

    def get(self, name: str) -> str:
        return self.shell.get(name) or self.file.get(name) or ""


def unresolved(project: str, values: DeployValues) -> list[str]:
    """The ${VAR} names ``doctl serverless deploy`` would stop on, as it reads them."""
    return sorted(name for name in variables(project) if not values.get(name))


def only_set(project: str, values: DeployValues) -> str:
    """project.yml without the environment lines whose setting has no value: memplane treats an
    unset setting as its default, and the deployer would refuse the empty one."""
    kept = []
    for line in project.splitlines():
        passed = _PASS_THROUGH.match(line)
        if passed is None or values.get(passed.group(1)):
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


def problems(env_file: Path) -> list[str]:
    """What the deployer would read differently in ``env_file`` (see ``envfile.cut``)."""
    return envfile.cut(env_file.read_text())


def measure(out: Path) -> list[Sizes]:
    """Zip each function folder as the deployer does: every file but the ones it always leaves out."""
    sizes = []
    with tempfile.TemporaryDirectory(prefix="memplane-bundle-") as tmp:
        for name in FUNCTIONS:
            function_dir = out / "packages" / PACKAGE / name
            archive = Path(tmp) / f"{name}.zip"
            # Level 1: the deployer's archiver compresses about as little (its zip of a Qdrant bundle was
            # 48.6 MB where zlib's default level gives 43.8 MB).
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
                for path in deployed_files(function_dir):
                    zf.write(path, path.relative_to(function_dir))
            sizes.append(Sizes(name, round(archive.stat().st_size / 1_000_000, 1)))
    return sizes


def deployed_files(function_dir: Path) -> list[Path]:
    return sorted(p for p in function_dir.rglob("*") if p.is_file() and not _deployer_skips(p, function_dir))


def skipped_by_deployer(out: Path) -> list[str]:
    """Files of the bundle that the deployer would leave out of a function's zip."""
    skipped = []
    for name in FUNCTIONS:
        function_dir = out / "packages" / PACKAGE / name
        skipped += [
            str(p.relative_to(out)) for p in function_dir.rglob("*") if _deployer_skips(p, function_dir)
        ]
    return sorted(skipped)


def _deployer_skips(path: Path, function_dir: Path) -> bool:
    relative = str(path.relative_to(function_dir))
    return (
        path.name in _DEPLOYER_SKIPS
        or any(part in relative for part in _DEPLOYER_SKIP_PARTS)
        or relative.endswith(("~", ".swp", ".swx"))
        or "/.git/" in f"/{relative}"
    )
