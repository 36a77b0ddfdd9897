"""S3: sensitive values never reach an activity log (environments/masking.py)."""

from __future__ import annotations

import pytest

from shipway.encoding import b64json
from shipway.environments.masking import MASK, MaskedLog, hider, mask, secret_forms


@pytest.mark.parametrize(
    ("line", "values", "expected"),
    [
        ("API_TOKEN=s3cr3t-value", ["s3cr3t-value"], f"API_TOKEN={MASK}"),
        ("a s3cr3t b s3cr3t", ["s3cr3t"], f"a {MASK} b {MASK}"),
        ("nothing here", ["s3cr3t"], "nothing here"),
        ("x=abcdef", ["abc", "abcdef"], f"x={MASK}"),  # the longer value whole, not "(sensitive)def"
        ("on=on", ["on"], "on=on"),  # too short to mask usefully
        ("pw=p4ss", ["p4ss"], f"pw={MASK}"),
        ("", ["s3cr3t"], ""),
        (f"PLATFORM_VARIABLES={b64json({'misc:key': 's3cr3t-v'})}", ["s3cr3t-v"],
         f"PLATFORM_VARIABLES={MASK}"),
        (f"R={b64json({'db': [{'password': 'pw-1234'}]})} x", ["pw-1234"], f"R={MASK} x"),
        (f"R={b64json({'db': [{'password': 'other'}]})}", ["pw-1234"],
         f"R={b64json({'db': [{'password': 'other'}]})}"),  # a blob holding no secret stays
        ("sha=0123456789abcdef0123456789abcdef", ["s3cr3t"], "sha=0123456789abcdef0123456789abcdef"),
    ],
)
def test_mask(line: str, values: list[str], expected: str) -> None:
    assert mask(line, secret_forms(values)) == expected


def test_masked_log_hides_every_value_and_keeps_the_rest() -> None:
    lines: list[str] = []
    log = MaskedLog(lines.append, lambda: ["tok-1234", "pass-5678"])
    log("env: TOKEN=tok-1234 DB=pass-5678 HOME=/app")
    assert lines == [f"env: TOKEN={MASK} DB={MASK} HOME=/app"]


def test_a_secret_created_during_the_activity_is_masked_after_the_refresh() -> None:
    now, known, lines = [0.0], ["tok-1234"], []
    log = MaskedLog(lines.append, lambda: list(known), refresh=0.5, clock=lambda: now[0])
    known.append("new-pass-99")  # a service's password, made half-way through a deploy
    log("a new-pass-99")
    now[0] = 0.5
    log("b new-pass-99 tok-1234")
    assert lines == ["a new-pass-99", f"b {MASK} {MASK}"]


def test_a_copy_of_the_output_is_masked_as_the_log_is() -> None:
    log = MaskedLog([].append, lambda: ["tok-1234"])
    assert hider(log)("x tok-1234") == f"x {MASK}"
    assert hider(print)("x tok-1234") == "x tok-1234"  # a plain log masks nothing
