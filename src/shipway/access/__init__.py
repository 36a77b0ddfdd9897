"""People and access (A): users, roles, SSH keys and API tokens."""
