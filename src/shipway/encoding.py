"""How Platform.sh passes values in variables: base64 of JSON, under shell names."""

from __future__ import annotations

import base64
import json
import re

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def b64json(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def env_value(value: object) -> str:
    """A variable's value as an environment string: structured values become JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def is_env_name(name: str) -> bool:
    """Whether `name` can be an environment variable: a shell identifier, as
    the sandbox's environment is loaded by dash (sandbox/envfd.py)."""
    return _ENV_NAME.fullmatch(name) is not None
