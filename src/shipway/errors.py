"""The exception tree. Each class says whose fault it is, so the CLI can tell
the user what to do.

    ShipwayError                 root; never raised directly
    ├── UserError                the user can fix it (config, input, command)
    │   ├── ConfigError          the repository's configuration is invalid
    │   ├── NotFound             a named project, environment, activity… does not exist
    │   ├── Forbidden            the acting user's role does not allow the action (A1)
    │   ├── Unauthorized         no valid API token was given (A3)
    │   └── UsageError           a command was called wrongly
    ├── AppError                 the app's own code failed (a hook, a start command)
    │   └── BuildFailed          the build hook, flavor or dependencies failed
    ├── PlatformError            shipway or the host failed (missing tool, full disk)
    │   └── RuntimeUnavailable   the requested runtime version cannot be had
    ├── Cancelled                an activity was cancelled or timed out
    └── NotSupportedYet          a documented feature shipway does not implement yet
"""

from __future__ import annotations

from dataclasses import dataclass


class ShipwayError(Exception):
    """Root of every error shipway raises on purpose."""


class UserError(ShipwayError):
    """Something the user can fix: their config, their input, their command."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem (or warning) in one configuration file."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(UserError):
    """The repository's configuration is invalid; carries one issue per problem."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class NotFound(UserError):
    """A named project, environment, activity or release does not exist."""


class Forbidden(UserError):
    """The acting user's role does not allow the action; the message names the user,
    the role they have and the role needed (A1). Nothing was changed."""


class Unauthorized(UserError):
    """A request over TCP without a valid API token (A3)."""


class UsageError(UserError):
    """A command was called with wrong or conflicting arguments."""


class AppError(ShipwayError):
    """The app's own code failed: a hook, a start command."""


class BuildFailed(AppError):
    """A build step (dependencies, flavor, build hook) failed."""


class PlatformError(ShipwayError):
    """shipway itself or the host failed: a missing tool, a full disk."""


class RuntimeUnavailable(PlatformError):
    """The runtime version an app asks for cannot be found or provisioned."""


class Cancelled(ShipwayError):
    """An activity was cancelled by a user or stopped by its time limit."""


class NotSupportedYet(UserError):
    """A documented Platform.sh feature that shipway does not implement yet."""
