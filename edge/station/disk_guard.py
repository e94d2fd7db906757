"""The disk guard: below max(min_free_mb, min_free_percent of the file system) free, refuse new orders.

Nothing is ever deleted to make room: events central has not acknowledged stay in the journal
(shared/messaging.md 2.3, 3 "Disk guard"). The open order may still finish, since its remaining
events are small and losing them would be worse.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

MIB = 1024 * 1024


class DiskStatus(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    free_mb: int
    need_mb: int
    detail: str


class DiskGuard:
    def __init__(self, path: Path, *, min_free_mb: int, min_free_percent: int) -> None:
        self.path = path  # any path on the journal's file system
        self.min_free_mb = min_free_mb
        self.min_free_percent = min_free_percent

    def check(self, unacked: int = 0) -> DiskStatus:
        """Free space against the threshold; `unacked` only enriches the message."""
        try:
            st = os.statvfs(self.path)
        except OSError as exc:
            return DiskStatus(
                ok=False,
                free_mb=0,
                need_mb=self.min_free_mb,
                detail=f"cannot read free space of {self.path}: {exc.strerror}",
            )
        free_mb = st.f_bavail * st.f_frsize // MIB
        total_mb = st.f_blocks * st.f_frsize // MIB
        need_mb = max(self.min_free_mb, total_mb * self.min_free_percent // 100)
        if free_mb >= need_mb:
            return DiskStatus(ok=True, free_mb=free_mb, need_mb=need_mb, detail="")
        detail = (
            f"disk space low: {free_mb} MiB free on {self.path}, {need_mb} MiB needed; "
            f"new orders refused, {unacked} events not yet acknowledged by central are kept"
        )
        return DiskStatus(ok=False, free_mb=free_mb, need_mb=need_mb, detail=detail)
