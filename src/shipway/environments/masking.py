"""Sensitive values out of activity logs and push output (S3, E3).

A build or deploy hook may print what it was given (`env`, `set -x`, a
framework's debug dump). Every line an activity logs passes through `mask`,
which replaces each sensitive variable's value and service password with
the marker the CLI shows for it, and so each base64 token that decodes to
text holding one (PLATFORM_VARIABLES and PLATFORM_RELATIONSHIPS in an `env`
dump); a hook's own log file (`shipway log deploy`) gets the same lines
(`hider`). This is best effort by nature: a hook that encodes a value its own
way (reversed, hex) gets it out, as on every CI system that masks; what it
defends is the accidental dump, read by whoever reads the activity.

Values shorter than MIN_LENGTH are not masked: replacing "1" or "on" in
every line would wreck the log and hide nothing an attacker cannot guess.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Iterable

MASK = "(sensitive)"  # what variable:list shows in place of the value
MIN_LENGTH = 4
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")

Log = Callable[[str], None]


def secret_forms(values: Iterable[str]) -> tuple[str, ...]:
    """The strings to hide, longest first so that a value containing another
    is replaced whole."""
    forms = {value for value in values if len(value) >= MIN_LENGTH}
    return tuple(sorted(forms, key=lambda value: (-len(value), value)))


def mask(text: str, secrets: tuple[str, ...]) -> str:
    if not secrets:
        return text
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _BASE64.sub(lambda m: MASK if _hides_one(m.group(), secrets) else m.group(), text)


def _hides_one(token: str, secrets: tuple[str, ...]) -> bool:
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (ValueError, binascii.Error):
        return False
    text = decoded.decode("utf-8", "replace")
    return any(secret in text for secret in secrets)


class MaskedLog:
    """`log`, with every value `values()` gives replaced by MASK in its
    lines. `values` is asked again once `refresh` seconds have passed: a
    first deploy creates its services' passwords half-way, seconds before
    any hook can print one (the server's initialisation comes between)."""

    def __init__(self, log: Log, values: Callable[[], Iterable[str]], *, refresh: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log, self._values, self._refresh, self._clock = log, values, refresh, clock
        self._secrets = secret_forms(values())
        self._read_at = clock()

    def __call__(self, line: str) -> None:
        self._log(self.hide(line))

    def hide(self, line: str) -> str:
        """`line` as this log writes it."""
        now = self._clock()
        if now - self._read_at >= self._refresh:
            self._secrets, self._read_at = secret_forms(self._values()), now
        return mask(line, self._secrets)


def hider(log: Log) -> Callable[[str], str]:
    """What `log` does to a line before writing it, for a copy of the same
    output kept elsewhere (a hook's own log file)."""
    return log.hide if isinstance(log, MaskedLog) else str
