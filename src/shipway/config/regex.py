"""Which regular expressions the router can run, and how (pure, C10).

Platform.sh runs nginx, whose PCRE has features Go's RE2 (Caddy's
path_regexp) lacks. Look-around is what real `rules` use (WordPress's
`(?<!\\-lock)\\.(?i:jpe?g|png)$` keeps `x-lock.jpg` out of the static rule),
and one top-level look-around compiles to two RE2 matchers, the second
negated:

    (?<=B)C      -> BC                 (a search for C right after B)
    A(?=B)       -> AB
    (?<!B)C$     -> C$  and not  BC$   (exact when C$ matches at one place)
    ^A(?!B)      -> ^A  and not  ^AB   (exact when ^A matches at one place)

"One place" is checked conservatively: the anchored part may not repeat
without bound (`*`, `+`, `{n,}`), so it has a bounded length and, anchored,
a bounded set of places; an optional piece (`jpe?g`) is allowed, as in the
WordPress rule. Anything else — two look-arounds, look-around inside a
group, back-references, atomic groups, possessive quantifiers — is refused
with the reason, since Caddy would refuse the whole router config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Features Go's RE2 lacks; a part left after compiling must have none.
_NOT_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]|\(\?>|[*+?}][+]|\\k<|\(\?P=")
_LOOKAROUND = re.compile(r"\(\?(<?[=!])")
_UNBOUNDED = re.compile(r"(?<!\\)[*+]|\{\d+,\}")
MAX_PATTERN = 4096  # a rule longer than this is not a path rule anyone writes


@dataclass(frozen=True)
class RuleMatch:
    """A rule as router matchers: `include` matches and `exclude` (if any) does not."""

    include: str
    exclude: str | None = None


def rule_problem(pattern: str) -> str | None:
    """Why a `rules` pattern cannot be served by the router, or None (pure)."""
    try:
        compile_rule(pattern)
    except ValueError as exc:
        return str(exc)
    return None


def re2_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be one Caddy path_regexp as written (redirects), or None."""
    problem = rule_problem(pattern)
    if problem is None and any(not _escaped(pattern, m.start()) for m in _LOOKAROUND.finditer(pattern)):
        return "uses look-around, which the router's RE2 engine lacks"
    return problem


def compile_rule(pattern: str) -> RuleMatch:
    """The router matchers of a `rules` pattern; ValueError says why there are none."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"is longer than {MAX_PATTERN} characters")
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as error:
        raise ValueError(f"is not a valid regular expression ({error})") from None
    found = [m for m in _LOOKAROUND.finditer(pattern) if not _escaped(pattern, m.start())]
    if not found:
        _check_re2(pattern)
        return RuleMatch(pattern)
    if len(found) > 1:
        raise ValueError("uses more than one look-around, which the router's RE2 engine cannot "
                         "run and shipway cannot rewrite")
    return _split(pattern, found[0])


def _split(pattern: str, found: re.Match[str]) -> RuleMatch:
    start, kind = found.start(), found.group(1)
    end = _group_end(pattern, start)
    before, inner, after = pattern[:start], pattern[found.end():end], pattern[end + 1:]
    if _depth(pattern, start) != 0:
        raise ValueError("uses look-around inside a group, which the router's RE2 engine cannot "
                         "run and shipway cannot rewrite")
    for part in (before, inner, after):
        _check_re2(part)
    if kind.startswith("<"):
        return _behind(kind == "<=", before, inner, after)
    return _ahead(kind == "=", before, inner, after)


def _behind(positive: bool, before: str, inner: str, after: str) -> RuleMatch:
    if before:
        raise ValueError("has a look-behind after other pattern text; shipway rewrites only a "
                         "look-behind at the start of the pattern")
    if positive:
        return RuleMatch(f"(?:{inner}){after}")
    if not after.endswith("$") or _UNBOUNDED.search(after):
        raise ValueError("has a negative look-behind not followed by a bounded, $-anchored "
                         "pattern, which the router's RE2 engine cannot run exactly")
    return RuleMatch(after, f"(?:{inner}){after}")


def _ahead(positive: bool, before: str, inner: str, after: str) -> RuleMatch:
    if after:
        raise ValueError("has a look-ahead before other pattern text; shipway rewrites only a "
                         "look-ahead at the end of the pattern")
    if positive:
        return RuleMatch(f"{before}(?:{inner})")
    if not before.startswith("^") or _UNBOUNDED.search(before):
        raise ValueError("has a negative look-ahead not preceded by a bounded, ^-anchored "
                         "pattern, which the router's RE2 engine cannot run exactly")
    return RuleMatch(before, f"{before}(?:{inner})")


def _check_re2(part: str) -> None:
    if any(not _escaped(part, m.start()) for m in _NOT_RE2.finditer(part)):
        raise ValueError("uses back-references, atomic groups or possessive quantifiers, which "
                         "the router's RE2 engine lacks; rewrite it without them")


def _escaped(pattern: str, index: int) -> bool:
    slashes = len(pattern[:index]) - len(pattern[:index].rstrip("\\"))
    return slashes % 2 == 1 or _in_class(pattern, index)


def _in_class(pattern: str, index: int) -> bool:
    inside, i = False, 0
    while i < index:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[" and not inside:
            inside = True
        elif char == "]" and inside:
            inside = False
        i += 1
    return inside


def _depth(pattern: str, index: int) -> int:
    """Open groups at `index` (escapes and character classes skipped)."""
    depth = 0
    for i, char in enumerate(pattern[:index]):
        if char in "()" and not _escaped(pattern, i):
            depth += 1 if char == "(" else -1
    return depth


def _group_end(pattern: str, start: int) -> int:
    """The index of the `)` closing the group opened at `start`."""
    depth = 0
    for i in range(start, len(pattern)):
        if pattern[i] in "()" and not _escaped(pattern, i):
            depth += 1 if pattern[i] == "(" else -1
            if depth == 0:
                return i
    raise ValueError("has an unclosed group")
