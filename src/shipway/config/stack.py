"""Upsun composable images: an app's `stack` (pure, C8).

Upsun writes an app on a composable image as `type: "composable:<release>"`
with `stack` naming its runtimes and extra packages. Two forms exist:

    stack: ["nodejs@22", "python@3.12", {"php@8.3": {extensions: [apcu]}}, "yarn"]
    stack:
      runtimes: ["nodejs@22", {"php@8.3": {extensions: [apcu]}}]
      packages: ["yarn"]

In the list form an entry with `@` is a runtime, and so is a bare runtime
name (`deno`: its current major, DEFAULT_MAJORS); any other is a package
(a Nix package name). The first runtime is the app's primary one
(its build flavor, its `web` defaults); every runtime is resolved like a
`type` is (`nodejs@22` as `nodejs:22`). Packages shipway cannot install
(it has no Nix); one the host already has as a command is accepted, any
other is refused by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

STACK_RUNTIMES = ("python", "nodejs", "php", "bun", "deno")
MAX_ENTRIES = 32
_RUNTIME = re.compile(r"([a-z][a-z0-9]{0,15})@(\d{1,4}(?:\.\d{1,4}){0,2})")
_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,63}(?:\.[A-Za-z0-9][A-Za-z0-9_+-]{0,63}){0,3}")
_EXTENSION = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class StackRuntime:
    language: str
    version: str
    extensions: tuple[str, ...] = ()
    disabled_extensions: tuple[str, ...] = ()

    @property
    def type(self) -> str:
        """As an app's `type` writes it: `nodejs:22`."""
        return f"{self.language}:{self.version}"


@dataclass(frozen=True)
class Stack:
    runtimes: tuple[StackRuntime, ...]
    packages: tuple[str, ...] = ()

    @property
    def primary(self) -> StackRuntime:
        return self.runtimes[0]


def parse_stack(raw: Any) -> Stack:
    """A `stack` value as written; ValueError says what is wrong."""
    if isinstance(raw, Mapping):
        unknown = sorted(set(map(str, raw)) - {"runtimes", "packages"})
        if unknown:
            raise ValueError(f"stack: unknown key(s) {', '.join(unknown)}; allowed: runtimes, packages")
        runtimes, packages = _list(raw.get("runtimes", []), "runtimes"), _list(raw.get("packages", []),
                                                                               "packages")
        entries = [*runtimes, *packages]
        if any(isinstance(p, str) and "@" in p for p in packages):
            raise ValueError("stack.packages: a runtime (name@version) belongs in stack.runtimes")
    else:
        entries = _list(raw, "stack")
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"stack: at most {MAX_ENTRIES} entries; got {len(entries)}")
    found = [_runtime(e) if _is_runtime(e) else _package(e) for e in entries]
    runtimes = tuple(f for f in found if isinstance(f, StackRuntime))
    if not runtimes:
        raise ValueError("stack: names no runtime; add one such as \"python@3.12\"")
    languages = [r.language for r in runtimes]
    twice = sorted({lang for lang in languages if languages.count(lang) > 1})
    if twice:
        raise ValueError(f"stack: {', '.join(twice)} is listed more than once")
    return Stack(runtimes, tuple(f for f in found if isinstance(f, str)))


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list, e.g. [\"nodejs@22\", \"python@3.12\"]")
    return value


# A runtime named without a version (upsun/demo-js writes `- deno`) gets its
# current major, as Upsun's channel would.
DEFAULT_MAJORS = {"bun": "1", "deno": "2", "nodejs": "22", "python": "3.12", "php": "8.3"}


def _is_runtime(entry: Any) -> bool:
    return isinstance(entry, Mapping) or (isinstance(entry, str) and ("@" in entry
                                                                     or entry in DEFAULT_MAJORS))


def _runtime(entry: Any) -> StackRuntime:
    options: Mapping[str, Any] = {}
    if isinstance(entry, Mapping):
        if len(entry) != 1:
            raise ValueError("stack: a runtime with options is one `name@version: {extensions: [...]}`")
        (name, options), = entry.items()
        options = options or {}
        entry = str(name)
    if entry in DEFAULT_MAJORS:
        entry = f"{entry}@{DEFAULT_MAJORS[entry]}"
    found = _RUNTIME.fullmatch(entry)
    if found is None:
        raise ValueError(f"stack: {_shown(entry)} is not a runtime written name@version, e.g. nodejs@22")
    language, version = found.groups()
    if language not in STACK_RUNTIMES:
        raise ValueError(f"stack: unknown runtime {language!r}; shipway runs {', '.join(STACK_RUNTIMES)}")
    if not isinstance(options, Mapping) or set(map(str, options)) - {"extensions", "disabled_extensions"}:
        raise ValueError(f"stack: {entry}: options are extensions and disabled_extensions")
    if options and language != "php":
        raise ValueError(f"stack: {entry}: only php takes extensions")
    return StackRuntime(language, version, _extensions(options.get("extensions")),
                        _extensions(options.get("disabled_extensions")))


def _extensions(value: Any) -> tuple[str, ...]:
    items = _list(value or [], "extensions")
    names = [str(i["name"]) if isinstance(i, Mapping) and "name" in i else i for i in items]
    for name in names:
        if not isinstance(name, str) or not _EXTENSION.fullmatch(name):
            raise ValueError(f"stack: {_shown(name)} is not a PHP extension name")
    return tuple(names)


def _package(entry: Any) -> str:
    if not isinstance(entry, str) or not _PACKAGE.fullmatch(entry):
        raise ValueError(f"stack: {_shown(entry)} is not a package name (letters, digits, - _ + "
                         "and dots, e.g. python312Packages.pip)")
    return entry


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def package_command(package: str) -> str:
    """The command a Nix package name is expected to provide: `python312Packages.pip` -> pip."""
    return package.rsplit(".", 1)[-1]


# Commands every stack already has through its runtimes' own shims.
_FROM_RUNTIMES = frozenset({"pip", "pip3", "npm", "npx", "corepack", "python", "python3", "node",
                            "php", "bun", "bunx", "deno"})


def missing_packages(packages: tuple[str, ...], has_command: Callable[[str], bool]) -> list[str]:
    """The packages neither a runtime nor the host provides, each with why (pure)."""
    return [f"stack package {p!r}: shipway cannot install Nix packages, and this host has no "
            f"`{package_command(p)}` command (install it on the host, e.g. with apt-get)"
            for p in packages
            if package_command(p) not in _FROM_RUNTIMES and not has_command(package_command(p))]
