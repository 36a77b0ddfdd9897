"""Which regular expressions the router can run (pure).

Platform.sh runs nginx, whose PCRE has features Go's RE2 (Caddy's
path_regexp) lacks; a `rules` pattern using them is refused at validation,
since Caddy would refuse the whole router config.
"""

from __future__ import annotations

import re

# Regular-expression features Go's RE2 (Caddy's matcher) lacks. Platform.sh
# runs nginx (PCRE); a pattern that needs them cannot be served as written.
_NOT_RE2 = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]|\(\?>|[*+?}][+]")


def re2_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be a Caddy path_regexp, or None (pure)."""
    try:
        re.compile(pattern)
    except re.error as error:
        return f"not a valid regular expression ({error})"
    if _NOT_RE2.search(pattern):
        return ("uses look-around, back-references, atomic groups or possessive quantifiers, "
                "which the router's RE2 engine lacks")
    return None
