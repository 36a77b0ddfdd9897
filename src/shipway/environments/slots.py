"""The uid layout of one instance, and the slot each environment holds in it (S5).

An instance owns UIDS_PER_INSTANCE uids from its base. Every environment
that runs gets a slot; its apps run as base+100+slot and its services as
base+500+slot, so a slot must stay below MAX_SLOTS or an app would run as
another environment's services (and, past 899, as the apps' group or the
router). Only active environments hold a slot: deactivating frees it, and
the next environment to run takes the lowest free one.

    offset   0 …  99   builds (the firewall keeps them off local addresses)
           100 … 499   apps, one uid per environment (slot 0 … 399)
           500 … 899   services, one uid per environment (slot 0 … 399)
           900 … 997   unused
                 998   the apps' group (the router is a member)
                 999   the router (Caddy)
"""

from __future__ import annotations

from collections.abc import Iterable

from shipway.errors import UserError

UIDS_PER_INSTANCE = 1000
BUILD_UIDS = (0, 99)
APP_UIDS = 100
SERVICE_UIDS = 500
MAX_SLOTS = SERVICE_UIDS - APP_UIDS  # 400: slot 400's app uid would be slot 0's service uid
APPS_GID = 998
ROUTER_UID = 999

assert SERVICE_UIDS + MAX_SLOTS <= APPS_GID, "service uids would reach the apps' group"


class NoFreeSlot(UserError):
    """Every slot of the instance is held by a running environment."""


def lowest_free_slot(taken: Iterable[int | None], limit: int = MAX_SLOTS) -> int:
    """The slot a new running environment gets: the lowest one nobody holds (pure)."""
    held = {slot for slot in taken if slot is not None}
    for slot in range(limit):
        if slot not in held:
            return slot
    raise NoFreeSlot(
        f"this shipway instance already runs {limit} environments, the most its uid layout "
        f"allows ({limit} app and {limit} service uids); deactivate one it no longer needs "
        "(`shipway environment:deactivate -p PROJECT ENV`), or run the rest on another "
        "instance (its own SHIPWAY_HOME)")


def check_slot(slot: int | None) -> int:
    """`slot`, if it maps to uids of its own; an inactive environment has none."""
    if slot is None:
        raise UserError("this environment is inactive and holds no uid; activate it first "
                        "(`shipway environment:activate`)")
    if not 0 <= slot < MAX_SLOTS:
        raise UserError(f"environment slot {slot} is outside 0-{MAX_SLOTS - 1}: its uids would "
                        "be another environment's; deactivate and activate it again")
    return slot
