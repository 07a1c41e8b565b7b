"""Environment files read the way DigitalOcean's deployer reads them, and written so it reads them back.

``doctl serverless deploy`` runs functions-deployer, which reads ``.env`` (or ``--env FILE``) with
dotenv 16.0 (``project-reader.ts``). dotenv cuts an unquoted value at the first ``#``, with or without a
space before it, and says nothing: ``DATABASE_URL=postgres://u:ab#cd@host`` deploys as ``postgres://u:ab``.
``parse`` is that parser, line for line (``lib/main.js``: the ``LINE`` expression, then trim, strip one pair
of matching quotes, expand ``\\n`` and ``\\r`` inside double quotes). ``intended`` is what a person means by
the same file, so ``cut`` can name each setting the deployer would read differently, and ``render`` writes
values quoted so that ``parse`` returns them exactly.
"""

from __future__ import annotations

import re

from memplane.errors import ConfigurationError

# dotenv 16.0.3, lib/main.js. JavaScript's \w is ASCII-only; `(?:^|^)` and `(?:$|$)` are `^` and `$`.
_LINE = re.compile(
    r"^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)"
    r"(\s*'(?:\\'|[^'])*'|\s*\"(?:\\\"|[^\"])*\"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?"
    r"\s*(?:#.*)?$",
    re.M | re.ASCII,
)
_QUOTED = re.compile(r"^(['\"`])([\s\S]*)\1$", re.M)
# What a person means: `KEY=value`, `export KEY=value`, optionally quoted, and a comment only after a space.
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=(.*)$")


def parse(text: str) -> dict[str, str]:
    """The values the deployer sees in ``text`` (dotenv 16.0's ``parse``)."""
    values: dict[str, str] = {}
    for match in _LINE.finditer(re.sub(r"\r\n?", "\n", text)):
        value = (match.group(2) or "").strip()
        quote = value[:1]
        value = _QUOTED.sub(r"\2", value)
        if quote == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        values[match.group(1)] = value
    return values


def intended(text: str) -> dict[str, str]:
    """The values a person means by ``text``: the whole rest of the line, less a quote pair or a
    comment that follows whitespace (``KEY=value  # why``). ``KEY=ab#cd`` means ``ab#cd``."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        found = _ASSIGNMENT.match(line)
        if found is None or line.lstrip().startswith("#"):
            continue
        raw = found.group(2).strip()
        quoted = re.match(r"^(['\"`])(.*)\1(\s+#.*)?$", raw)
        if quoted:
            inner = quoted.group(2)
            if quoted.group(1) == '"':  # the escapes every dotenv reader expands in double quotes
                inner = inner.replace("\\n", "\n").replace("\\r", "\r")
            values[found.group(1)] = inner
        else:
            values[found.group(1)] = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
    return values


def cut(text: str) -> list[str]:
    """One sentence per setting the deployer would read differently from what the file says.

    Never quotes a value: they are secrets. Says where the value would be cut and how to fix it."""
    seen = parse(text)
    problems = []
    for name, value in intended(text).items():
        read = seen.get(name)
        if read == value:
            continue
        if read is not None and "#" in value and value.startswith(read):
            problems.append(
                f"{name}: the deployer would cut its value at the '#' after character {len(read)} "
                f"(an unquoted '#' starts a comment there); put the value in single quotes: {name}='...'"
            )
        else:
            problems.append(f"{name}: the deployer would read a different value; put it in single quotes")
    return problems


def render(values: dict[str, str]) -> str:
    """An environment file that ``parse`` reads back as exactly ``values``."""
    lines = []
    for name, value in values.items():
        line = next((f"{name}={q}{value}{q}" for q in "'`\"" if _reads_back(name, value, q)), None)
        if line is None:
            raise ConfigurationError(
                f"{name} cannot be written to an environment file the deployer reads back unchanged "
                "(it holds a line break or every kind of quote); set it in the deploy's environment instead"
            )
        lines.append(line)
    return "".join(f"{line}\n" for line in lines)


def _reads_back(name: str, value: str, quote: str) -> bool:
    return (
        quote not in value and "\n" not in value and parse(f"{name}={quote}{value}{quote}\n") == {name: value}
    )
