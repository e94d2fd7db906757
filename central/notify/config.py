"""Central's notifications ([notify] of config/central.toml)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import msgspec


class NotifySection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who is told what ([notify]): a webhook and/or e-mail through the store's SMTP server."""

    webhook_url: str = ""  # "" = no webhook target
    webhook_secret_file: str = ""  # "" = unsigned; else HMAC-SHA256 as central/webhook.py signs
    smtp_host: str = ""  # "" = no e-mail target
    smtp_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 25
    smtp_starttls: bool = False
    mail_from: str = "packstation@localhost"
    mail_to: list[str] = msgspec.field(default_factory=list)
    halt_kinds: list[str] = msgspec.field(default_factory=list)  # halt codes that notify
    quarantines: bool = True
    station_offline_min: Annotated[int, msgspec.Meta(ge=0, le=10_080)] = 0  # 0 = off
    state_report_failures: bool = True
    poll_ms: Annotated[int, msgspec.Meta(ge=50, le=60_000)] = 1000
    timeout_ms: Annotated[int, msgspec.Meta(ge=100, le=120_000)] = 10_000

    @property
    def targets(self) -> list[str]:
        out = ["webhook"] if self.webhook_url else []
        return out + (["email"] if self.smtp_host and self.mail_to else [])

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            yield "webhook_url", f'expected an http:// or https:// URL, got "{self.webhook_url}"'
        if self.smtp_host and not self.mail_to:
            yield "mail_to", "smtp_host is set but no recipient is listed"
