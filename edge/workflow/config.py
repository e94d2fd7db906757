"""The pack workflow's section of config/station.toml ([workflow])."""

from __future__ import annotations

from typing import Annotated

import msgspec


class WorkflowSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The pack workflow ([workflow])."""

    inactivity_logout_s: Annotated[int, msgspec.Meta(ge=10, le=86_400)] = 300
    print_slips: bool = True
    weigh_timeout_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 60
    # At a weighed line's weigh step, a scan of another tag is the new container's tag
    # (`child_tag` event): central makes it a child package where the state allows it.
    child_tag_scan: bool = False
