"""Where each key of a loaded configuration document was written.

Later stages work on plain dicts and name problems by key path; a SourceMap
turns such a path back into file:line, and an Entity (one app, service or
route inside a document) into a full ConfigIssue. Normalization moves some
legacy keys (`web.document_root` → `web.locations./.root`); `moved()` records
that, so the issue still names the key the user wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shipway.errors import ConfigIssue

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Where:
    file: str
    line: int | None


class SourceMap:
    """Key path → where it was written, for one top-level document."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._where: dict[KeyPath, Where] = {}
        self._moved: dict[KeyPath, KeyPath] = {}

    def record(self, path: KeyPath, where: Where) -> None:
        self._where[path] = where

    def moved(self, new: KeyPath, old: KeyPath) -> None:
        self._moved[new] = old

    def written(self, path: KeyPath) -> KeyPath:
        """The path as the user wrote it, undoing normalization moves."""
        for end in range(len(path), 0, -1):
            old = self._moved.get(path[:end])
            if old is not None:
                return old + path[end:]
        return path

    def where(self, path: KeyPath) -> Where:
        """Where `path` was written, or its nearest written ancestor (for missing keys)."""
        path = self.written(path)
        for end in range(len(path), -1, -1):
            found = self._where.get(path[:end])
            if found is not None:
                return found
        return Where(self.file, None)


def dotted(path: KeyPath) -> str:
    """The key as messages name it; control characters escaped, so that a key
    cannot forge lines of the push output."""
    text = ""
    for part in path:
        if isinstance(part, str) and not part.isprintable():
            part = part.encode("unicode_escape").decode("ascii")
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class Entity:
    """One app, service or route: its place in a document and how its keys are named.

    `prefix` is its path inside the document; `label` is put before its keys in
    messages (a service's name, a route's URL; nothing for apps, whose keys read
    the same in every file form).
    """

    smap: SourceMap
    prefix: KeyPath
    label: KeyPath = ()

    def where(self, path: KeyPath = ()) -> Where:
        return self.smap.where(self.prefix + path)

    def key(self, path: KeyPath) -> str:
        written = self.smap.written(self.prefix + path)[len(self.prefix) :]
        return dotted(self.label + written)

    def issue(self, path: KeyPath, message: str) -> ConfigIssue:
        where = self.where(path)
        return ConfigIssue(file=where.file, line=where.line, key=self.key(path), message=message)


@dataclass
class Issues:
    """Every error and warning found while loading one project."""

    errors: list[ConfigIssue] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)


@dataclass(frozen=True)
class Notes:
    """An Entity bound to the project's Issues: what each stage reports through."""

    entity: Entity
    issues: Issues

    def error(self, path: KeyPath, message: str) -> None:
        self.issues.errors.append(self.entity.issue(path, message))

    def warn(self, path: KeyPath, message: str) -> None:
        self.issues.warnings.append(self.entity.issue(path, message))

    def moved(self, new: KeyPath, old: KeyPath) -> None:
        self.entity.smap.moved(self.entity.prefix + new, self.entity.prefix + old)
