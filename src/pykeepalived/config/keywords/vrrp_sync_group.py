"""vrrp_sync_group: keyword -> handler."""

from __future__ import annotations

from pykeepalived.config.blocks import (
    Ctx,
    Fields,
    Handler,
    block,
    deprecated,
    flag,
    keyword_rules,
    script,
    switch,
    value_lines,
)
from pykeepalived.config.grammar import Node
from pykeepalived.config.keywords.trackers import TRACKING


def group_names(ctx: Ctx, node: Node, w: list[str], f: Fields) -> None:
    f["group"] = tuple(f.get("group", ())) + tuple(x for _, ws in value_lines(ctx, node) for x in ws)


SYNC_GROUP: dict[str, Handler] = {
    "group": block(group_names),
    **TRACKING,
    "notify_backup": script("notify_backup"),
    "notify_master": script("notify_master"),
    "notify_fault": script("notify_fault"),
    "notify_stop": script("notify_stop"),
    "notify": script("notify"),
    "smtp_alert": flag("smtp_alert"),
    "notify_priority_changes": flag("notify_priority_changes"),
    "global_tracking": deprecated(switch("sync_group_tracking_weight"), "({name}) global_tracking is deprecated. "
                                  "Use track_interface/script/file on the sync group"),
    "sync_group_tracking_weight": switch("sync_group_tracking_weight"),
}


keyword_rules(SYNC_GROUP, stops={"notify", "notify_backup", "notify_fault", "notify_master", "notify_stop"})
