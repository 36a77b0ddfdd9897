"""Read YAML files with a line number for every key, and resolve `!include`.

Theory of operation: `parse()` returns ruamel's round-trip tree, in which
`!include` and `!archive` tags are left as markers, so parsing reads nothing
but the file itself. `Converter.plain()` then walks that tree into plain
Python values, recording in the entity's SourceMap where each key was
written, and resolves the markers: by then the caller knows which app a tag
sits in, and so the directory its path is relative to (reference §0).

Every file and include is read within one project's Budget, and metered
event by event as ruamel composes it (limits.py), so no pushed file costs
the control plane more than the caps allow. Text no later stage could
carry (NUL, lone surrogates, control characters in keys) is reported here.
"""

from __future__ import annotations

import base64
import datetime
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode
from ruamel.yaml.parser import RoundTripParser
from ruamel.yaml.scalarbool import ScalarBoolean

from shipway.errors import ConfigIssue

from .limits import MAX_DEPTH, MAX_FILE_BYTES, Budget, LimitExceeded, Meter
from .paths import check_text
from .sourcemap import KeyPath, Notes, Where

INCLUDE_KINDS = ("yaml", "string", "binary")
# Keys are names (of apps, variables, mounts, headers): none holds a control character.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class IncludeTag:
    spec: Any
    line: int


@dataclass(frozen=True)
class ArchiveTag:
    path: Any
    line: int


class BadFile(Exception):
    """A file could not be read or parsed; carries the one issue that says why."""

    def __init__(self, issue: ConfigIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


class _Constructor(RoundTripConstructor):
    pass


def _tag_value(node: Node) -> Any:
    if isinstance(node, ScalarNode):
        return node.value
    if isinstance(node, MappingNode):
        return {key.value: value.value for key, value in node.value}
    return [item.value for item in node.value]


def _construct_include(constructor: Any, node: Node) -> IncludeTag:
    return IncludeTag(_tag_value(node), node.start_mark.line + 1)


def _construct_archive(constructor: Any, node: Node) -> ArchiveTag:
    return ArchiveTag(_tag_value(node), node.start_mark.line + 1)


class _MeteredParser(RoundTripParser):
    """Shows each event to the file's Meter (limits.py) as the composer takes it."""

    def get_event(self) -> Any:
        event = super().get_event()
        self.loader.shipway_meter.see(event)
        return event


_Constructor.add_constructor("!include", _construct_include)
_Constructor.add_constructor("!archive", _construct_archive)


def read_bytes(repo: Path, rel: str, budget: Budget) -> bytes:
    """A repo-relative file's content, within the budget; BadFile if it cannot be had.

    LimitExceeded (a cap) stops the whole load, not just this file."""
    full = repo / rel
    if not full.resolve().is_relative_to(repo.resolve()):
        # A pushed symlink must not make us read (and quote in errors) a host file.
        raise BadFile(ConfigIssue(rel, None, "", "is a symlink to a file outside the repository"))
    try:
        budget.read(rel, full.stat().st_size)
        with full.open("rb") as file:
            # Read no more than the cap, whatever the size was a moment ago.
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        # Not str(exc): it names the server's directory.
        reason = exc.strerror or type(exc).__name__
        raise BadFile(ConfigIssue(rel, None, "", f"cannot read file: {reason}")) from exc
    if len(data) > MAX_FILE_BYTES:  # grown since stat(): refused as if seen then
        budget.read(rel, len(data))
    return data


def parse(repo: Path, rel: str, budget: Budget) -> Any:
    """The round-trip tree of one repo-relative YAML file; BadFile if unreadable."""
    try:
        text = read_bytes(repo, rel, budget).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadFile(ConfigIssue(rel, None, "", f"cannot read file: not UTF-8 text ({exc.reason} "
                                  f"at byte {exc.start})")) from exc
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.Parser = _MeteredParser
    yaml.shipway_meter = Meter(rel, budget)
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        # When the parser ran into the end of the file, the construct left
        # open (the context) is where the user must look.
        at_end = "<stream end>" in (exc.problem or "")
        mark = (exc.context_mark if at_end else None) or exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        if len(problem) > 300:  # ruamel quotes whole values (a duplicate key's)
            problem = problem[:297] + "..."
        if at_end and exc.context_mark and exc.problem_mark:
            problem += f" (at line {exc.problem_mark.line + 1})"
        raise BadFile(ConfigIssue(rel, line, "", f"invalid YAML: {problem}")) from exc
    except YAMLError as exc:
        raise BadFile(ConfigIssue(rel, None, "", f"invalid YAML: {exc}")) from exc


def peek_root(tree: Any) -> str | None:
    """The app's `source.root` as written, if it is a plain string (before conversion)."""
    source = tree.get("source") if isinstance(tree, dict) else None
    root = source.get("root") if isinstance(source, dict) else None
    return root.strip("/") if isinstance(root, str) else None


def line_of(container: Any, key: Any) -> int | None:
    """1-based line of a key (mapping) or item (sequence) in a round-trip container."""
    found = container.lc.data.get(key)
    if found is not None:
        return found[0] + 1
    # Keys brought in by a `<<:` merge have no position of their own.
    return container.lc.line + 1 if container.lc.line is not None else None


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


class Converter:
    """Turns round-trip trees into plain values for one repository."""

    def __init__(self, repo: Path) -> None:
        self._repo = repo
        self._stack: list[str] = []
        self.budget = Budget()

    def plain(self, node: Any, notes: Notes, file: str, base: str, path: KeyPath = ()) -> Any:
        """`node` as plain Python; `base` is the repo-relative directory includes start from."""
        if len(path) > MAX_DEPTH:
            # Each file is within the cap (limits.Meter); included files nest further.
            raise LimitExceeded(notes.entity.issue(path[:MAX_DEPTH], f"nested more than "
                                                   f"{MAX_DEPTH} levels deep (counting the "
                                                   "files it includes)"))
        if isinstance(node, IncludeTag):
            return self._include(node, notes, base, path)
        if isinstance(node, ArchiveTag):
            notes.warn(path, "!archive is accepted by Platform.sh but not implemented by "
                       "shipway yet; its path is kept as a string")
            return node.path
        if isinstance(node, CommentedMap | CommentedSeq | TaggedScalar) and node.tag.value:
            notes.warn(path, f"unknown YAML tag {node.tag.value}; the value is used as written")
        if isinstance(node, CommentedMap):
            return self._mapping(node, notes, file, base, path)
        if isinstance(node, CommentedSeq):
            return self._sequence(node, notes, file, base, path)
        return _text_checked(self._scalar(node), notes, path)

    def include_app(self, tag: IncludeTag, notes: Notes, file: str) -> Any:
        """A whole app included from an applications file (`- !include pip.app.yaml`).

        The tag is relative to the including file's directory (as the django4
        template has it); the includes inside the app are relative to its root.
        """
        opened = self._open(tag, notes, posixpath.dirname(file), ())
        if opened is None:
            return None
        rel, tree = opened
        return self._descend(rel, tree, notes, peek_root(tree) or "", ())

    def _mapping(self, node: CommentedMap, notes: Notes, file: str, base: str,
                 path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            name = _key_text(key)
            notes.entity.smap.record(notes.entity.prefix + path + (name,),
                                     Where(file, line_of(node, key)))
            name = _text_checked(name, notes, path + (name,))
            if _CONTROL.search(name) and "\x00" not in name:
                notes.error(path + (name,), "a key must not contain control characters (such "
                            "as a newline or a tab)")
            out[name] = self.plain(value, notes, file, base, path + (name,))
        return out

    def _sequence(self, node: CommentedSeq, notes: Notes, file: str, base: str,
                  path: KeyPath) -> list[Any]:
        out = []
        for index, value in enumerate(node):
            notes.entity.smap.record(notes.entity.prefix + path + (index,),
                                     Where(file, line_of(node, index)))
            out.append(self.plain(value, notes, file, base, path + (index,)))
        return out

    @staticmethod
    def _scalar(node: Any) -> Any:
        if isinstance(node, TaggedScalar):
            return node.value
        # ruamel's scalar subclasses (ScalarBoolean is an int) become plain types.
        if isinstance(node, bool | ScalarBoolean):
            return bool(node)
        for plain in (int, float, str):
            if isinstance(node, plain):
                return plain(node)
        if isinstance(node, datetime.date):
            return node.isoformat()
        if isinstance(node, bytes):
            return base64.b64encode(node).decode("ascii")
        return node

    def _include(self, tag: IncludeTag, notes: Notes, base: str, path: KeyPath) -> Any:
        kind = tag.spec.get("type", "yaml") if isinstance(tag.spec, dict) else "yaml"
        opened = self._open(tag, notes, base, path)
        if opened is None:
            return None
        rel, content = opened
        if kind == "yaml":
            return self._descend(rel, content, notes, base, path)
        return _text_checked(content, notes, path)

    def _descend(self, rel: str, tree: Any, notes: Notes, base: str, path: KeyPath) -> Any:
        first = tree.lc.line + 1 if isinstance(tree, CommentedMap | CommentedSeq) else 1
        # Problems with the included value as a whole are in the included file.
        notes.entity.smap.record(notes.entity.prefix + path, Where(rel, first))
        self._stack.append(rel)
        try:
            return self.plain(tree, notes, rel, base, path)
        finally:
            self._stack.pop()

    def _open(self, tag: IncludeTag, notes: Notes, base: str,
              path: KeyPath) -> tuple[str, Any] | None:
        """(repo-relative path, content) of an include: a tree, text or base64 text."""
        where = notes.entity.where(path)
        self.budget.include(where.file, where.line)
        try:
            kind, target = include_spec(tag.spec)
            rel = self._resolve(base, target)
            if rel in self._stack:
                raise ValueError(f"'{rel}' includes itself: {' → '.join(self._stack + [rel])}")
            return rel, self._read(kind, rel)
        except ValueError as exc:
            notes.error(path, f"!include: {exc}")
        except BadFile as exc:
            notes.issues.errors.append(exc.issue)
        return None

    def _read(self, kind: str, rel: str) -> Any:
        if kind == "yaml":
            return parse(self._repo, rel, self.budget)
        data = read_bytes(self._repo, rel, self.budget)
        if kind == "binary":
            return base64.b64encode(data).decode("ascii")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"'{rel}' is not UTF-8 text; use type: binary") from exc

    def _resolve(self, base: str, target: str) -> str:
        check_text(target)
        if posixpath.isabs(target):
            raise ValueError(f"path '{target}' must be relative (to '{base or '.'}/')")
        rel = posixpath.normpath(posixpath.join(base, target))
        full = self._repo / rel
        outside = rel == ".." or rel.startswith("../")
        if outside or not full.resolve().is_relative_to(self._repo.resolve()):
            raise ValueError(f"path '{target}' points outside the repository")
        if not full.is_file():
            raise ValueError(f"file '{rel}' not found (path '{target}' is relative to "
                             f"'{base or '.'}/')")
        return rel


def _text_checked(value: Any, notes: Notes, path: KeyPath) -> Any:
    """`value`, after reporting text no file name, argument or environment can hold."""
    if isinstance(value, str):
        if "\x00" in value:
            notes.error(path, "contains a NUL character (\\0), which no command, file name "
                        "or environment variable can hold")
        elif not _encodable(value):
            notes.error(path, "contains a lone UTF-16 surrogate (such as \\ud800), which is "
                        "not text; write the character itself or \\U0001F642")
            # Later stages (pydantic's, every encode()) cannot take it at all.
            return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def include_spec(spec: Any) -> tuple[str, str]:
    """(kind, path) of an `!include` tag: `!include "f.yaml"` or `!include {type, path}`."""
    if isinstance(spec, str):
        return "yaml", spec
    if not isinstance(spec, dict):
        raise ValueError("write !include \"file.yaml\" or !include {type: yaml, path: file.yaml}")
    kind, path = spec.get("type", "yaml"), spec.get("path")
    if kind not in INCLUDE_KINDS:
        raise ValueError(f"type '{kind}' is not allowed; allowed: {', '.join(INCLUDE_KINDS)}")
    if not isinstance(path, str) or not path:
        raise ValueError("path is required")
    return kind, path
