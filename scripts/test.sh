#!/usr/bin/env bash
# The whole test suite: fast unit tests and end-to-end tests on real git,
# bubblewrap, Caddy and processes (needs root). `-m "not e2e"` for the fast ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests
exec .venv/bin/pytest -q "$@"
