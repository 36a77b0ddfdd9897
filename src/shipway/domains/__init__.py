"""A project's own domains (T1): names checked in `names` (pure), kept in
`registry` (the control plane's SQLite)."""
