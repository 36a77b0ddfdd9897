"""Find a repository's configuration files and split them into apps, services
and routes, each as plain data with the Notes that locate its keys.

Two flavours (reference §0): Platform.sh reads `.platform.app.yaml` files
anywhere (depth < 5) plus `.platform/applications.yaml`, `services.yaml` and
`routes.yaml`; Upsun reads every `.upsun/*.yaml` and merges their top-level
`applications`, `services` and `routes` by name, a later file winning whole.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from shipway.errors import ConfigIssue

from .sourcemap import Entity, Issues, Notes, SourceMap, Where
from .yamlload import BadFile, Converter, IncludeTag, line_of, parse, peek_root

APP_FILE = ".platform.app.yaml"
APPLICATIONS = ".platform/applications.yaml"
SERVICES = ".platform/services.yaml"
ROUTES = ".platform/routes.yaml"
UPSUN_DIR = ".upsun"
UPSUN_SECTIONS = ("applications", "services", "routes")
# The legacy CLI's finder: depth < 5, skipping dependency, build and VCS folders.
MAX_DEPTH = 4
SKIPPED_DIRS = frozenset({"node_modules", "vendor", "builds", ".idea", ".git", ".svn", ".hg",
                          ".bzr", "CVS"})


@dataclass(frozen=True)
class Source:
    """One app, service or route as found. `name` is its key in a mapping form."""

    name: str | None
    data: Any
    notes: Notes
    default_root: str = ""


@dataclass
class Found:
    flavour: Literal["platform", "upsun"]
    apps: list[Source] = field(default_factory=list)
    services: list[Source] = field(default_factory=list)
    routes: list[Source] | None = None  # None: no routes written at all


def flavour_of(has_upsun: bool, has_platform: bool, prefer: str) -> tuple[str, str | None]:
    """Which configuration a repository deploys, and a warning when it had a
    choice (pure, C10). Upsun is Platform.sh's successor and reads only
    `.upsun/`; the Platform.sh CLI reads only `.platform/`: a repository with
    both (platformsh-templates/golang ships both on purpose) deploys `.upsun/`
    unless the project's `config_dir` setting says `.platform`."""
    if not (has_upsun and has_platform):
        return ("upsun" if has_upsun else "platform"), None
    chosen, other = ("platform", UPSUN_DIR) if prefer == ".platform" else ("upsun", ".platform")
    used = ".platform" if chosen == "platform" else UPSUN_DIR
    return chosen, (f"both .platform (Platform.sh) and .upsun (Upsun) configuration exist; "
                    f"deploying {used}/ and ignoring {other} (change it with "
                    f"`shipway project:info -p PROJECT config_dir {other}`)")


def discover(repo: Path, issues: Issues, prefer: str = UPSUN_DIR) -> Found | None:
    """Every app, service and route in `repo`; None when the layout itself is wrong."""
    has_platform = (repo / ".platform").is_dir() or (repo / APP_FILE).is_file()
    flavour, warning = flavour_of((repo / UPSUN_DIR).is_dir(), has_platform, prefer)
    if warning:
        issues.warnings.append(ConfigIssue(UPSUN_DIR, None, "", warning))
    upsun = flavour == "upsun"
    reader = _Reader(repo, issues)
    found = reader.upsun() if upsun else reader.platform()
    if not found.apps and not issues.errors:
        issues.errors.append(ConfigIssue(".", None, "", "no app is defined in the configuration "
                                         "files"))
    return found if found.apps else None


def find_app_files(repo: Path) -> list[str]:
    """Repo-relative paths of every `.platform.app.yaml`, root first."""
    found: list[str] = []

    def walk(directory: Path, rel: str, depth: int) -> None:
        if (directory / APP_FILE).is_file():
            found.append(posixpath.join(rel, APP_FILE))
        if depth == MAX_DEPTH:
            return
        for child in sorted(directory.iterdir()):
            if child.is_dir() and not child.is_symlink() and child.name not in SKIPPED_DIRS:
                walk(child, posixpath.join(rel, child.name), depth + 1)

    walk(repo, "", 0)
    return found


class _Reader:
    def __init__(self, repo: Path, issues: Issues) -> None:
        self.repo = repo
        self.issues = issues
        self.convert = Converter(repo)

    def platform(self) -> Found:
        found = Found("platform")
        app_files = find_app_files(self.repo)
        for rel in app_files:
            found.apps.extend(self._app_file(rel))
        if (self.repo / APPLICATIONS).is_file():
            found.apps.extend(self._applications(APPLICATIONS))
        elif not app_files:
            self.issues.errors.append(ConfigIssue(".", None, "", "No .platform.app.yaml file "
                                                  "found anywhere in the repo (nor "
                                                  f"{APPLICATIONS})"))
        if (self.repo / SERVICES).is_file():
            found.services = self._section(SERVICES, "services")
        if (self.repo / ROUTES).is_file():
            found.routes = self._section(ROUTES, "routes")
        return found

    def upsun(self) -> Found:
        files = sorted(p.name for p in (self.repo / UPSUN_DIR).glob("*.yaml") if p.is_file())
        if not files:
            self.issues.errors.append(ConfigIssue(UPSUN_DIR, None, "", "no .yaml file in "
                                                  ".upsun/ (only its first level is read)"))
        sections: dict[str, dict[str, Source]] = {name: {} for name in UPSUN_SECTIONS}
        present: set[str] = set()
        for name in files:
            rel = f"{UPSUN_DIR}/{name}"
            present.update(self._upsun_file(rel, sections))
        if files and "applications" not in present:
            self.issues.errors.append(ConfigIssue(f"{UPSUN_DIR}/{files[0]}", None,
                                                  "applications", "is required in .upsun/"))
        routes = list(sections["routes"].values()) if "routes" in present else None
        return Found("upsun", list(sections["applications"].values()),
                     list(sections["services"].values()), routes)

    def _upsun_file(self, rel: str, sections: dict[str, dict[str, Source]]) -> set[str]:
        tree = self._document(rel, "a mapping with applications, services and routes")
        if tree is None:
            return set()
        notes = self._notes(SourceMap(rel), ())
        for key in tree:
            if key not in UPSUN_SECTIONS:
                notes.entity.smap.record((key,), Where(rel, line_of(tree, key)))
                notes.warn((key,), "unknown key; ignored; allowed: " + ", ".join(UPSUN_SECTIONS))
        for section in UPSUN_SECTIONS:
            if section in tree:
                smap = SourceMap(rel)
                smap.record((section,), Where(rel, line_of(tree, section)))
                # A later file's definition replaces an earlier one whole.
                for source in self._members(rel, tree[section], smap, (section,), section):
                    sections[section][str(source.name)] = source
        return {s for s in UPSUN_SECTIONS if s in tree}

    def _app_file(self, rel: str) -> Iterator[Source]:
        tree = self._document(rel, "a mapping of app keys such as name, type, web")
        if tree is None:
            return
        smap = SourceMap(rel)
        smap.record((), Where(rel, 1))
        notes = self._notes(smap, ())
        app_dir = posixpath.dirname(rel)
        data = self.convert.plain(tree, notes, rel, peek_root(tree) or app_dir)
        yield Source(None, data, notes, app_dir)

    def _applications(self, rel: str) -> Iterator[Source]:
        tree = self._document(rel, "a list of apps, or a mapping of app names to apps",
                              allow_list=True)
        if isinstance(tree, CommentedMap):
            yield from self._members(rel, tree, SourceMap(rel), (), "applications")
        elif isinstance(tree, CommentedSeq):
            smap = SourceMap(rel)
            for index, node in enumerate(tree):
                smap.record((index,), Where(rel, line_of(tree, index)))
                notes = self._notes(smap, (index,))
                if isinstance(node, IncludeTag):
                    data = self.convert.include_app(node, notes, rel)
                else:
                    data = self.convert.plain(node, notes, rel, peek_root(node) or "")
                if data is not None:
                    yield Source(None, data, notes)

    def _section(self, rel: str, what: str) -> list[Source]:
        """A whole file that maps names to services or routes."""
        tree = self._document(rel, f"a mapping of {what}")
        return [] if tree is None else list(self._members(rel, tree, SourceMap(rel), (), what))

    def _members(self, rel: str, node: Any, smap: SourceMap, section: tuple[str, ...],
                 what: str) -> Iterator[Source]:
        """Each `name: {...}` entry of a mapping; an app's keys are named without its name."""
        if node is None:
            return
        if not isinstance(node, CommentedMap):
            where = smap.where(section)
            self.issues.errors.append(ConfigIssue(rel, where.line, ".".join(section),
                                                  f"must be a mapping of {what}"))
            return
        apps = what == "applications"
        for key, entry in node.items():
            name = str(key)
            prefix = section + (name,)
            smap.record(prefix, Where(rel, line_of(node, key)))
            notes = Notes(Entity(smap, prefix, () if apps else (name,)), self.issues)
            base = (peek_root(entry) or "") if apps else posixpath.dirname(rel)
            data = self.convert.plain(entry, notes, rel, base)
            yield Source(name, _named(data, name) if apps else data, notes)

    def _document(self, rel: str, expected: str, allow_list: bool = False) -> Any:
        """The parsed file if it holds a mapping (or a list); None if it is broken."""
        try:
            tree = parse(self.repo, rel, self.convert.budget)
        except BadFile as exc:
            self.issues.errors.append(exc.issue)
            return None
        kinds = (CommentedMap, CommentedSeq) if allow_list else (CommentedMap,)
        if tree is not None and not isinstance(tree, kinds):
            self.issues.errors.append(ConfigIssue(rel, 1, "", f"must hold {expected}"))
            return None
        # An empty file is an empty mapping: an app in it then lacks name and type.
        return CommentedMap() if tree is None else tree

    def _notes(self, smap: SourceMap, prefix: tuple[str | int, ...]) -> Notes:
        return Notes(Entity(smap, prefix), self.issues)


def _named(data: Any, name: str) -> Any:
    """In the mapping forms the key is the app's name; `name:` inside must agree."""
    if isinstance(data, dict) and "name" not in data:
        return {"name": name, **data}
    return data
