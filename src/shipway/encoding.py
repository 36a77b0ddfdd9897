"""How Platform.sh passes structured values in variables: base64 of JSON."""

from __future__ import annotations

import base64
import json


def b64json(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def env_value(value: object) -> str:
    """A variable's value as an environment string: structured values become JSON."""
    return value if isinstance(value, str) else json.dumps(value)
