"""Delivers the queued notifications: the webhook target (POST, signed as central/webhook.py
signs the POS's) and the e-mail target (SMTP, the store's server). Delivery state stays in the
outbox row: delivered_at once accepted, else attempts, next_at and last_error."""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp

from central.notify.config import NotifySection
from central.statesys.store import ReportStore
from central.webhook import post_signed, retry_delay
from edge.common.credentials import credential_path

LOG = logging.getLogger(__name__)


class NotifySender:
    def __init__(self, section: NotifySection, reports: ReportStore) -> None:
        self.cfg = section
        self.reports = reports
        self.timeout_s = section.timeout_ms / 1000
        self.secret = b""
        if section.webhook_secret_file:
            path = credential_path(section.webhook_secret_file)
            self.secret = Path(path).read_bytes().strip()
        self.delivered = 0

    async def drain_once(self, session: aiohttp.ClientSession) -> int:
        due = await asyncio.to_thread(self.reports.due_webhooks, 50, "notify:")
        done = 0
        for wid, key, event, body, attempts in due:
            target = event.split(":")[1]
            try:
                if target == "webhook":
                    await self._post(session, key, event, body.encode())
                else:
                    await asyncio.to_thread(self._mail, key, json.loads(body))
                ok, why = True, ""
            except (TimeoutError, OSError, aiohttp.ClientError, smtplib.SMTPException) as exc:
                ok, why = False, f"{type(exc).__name__}: {exc}"
            if ok:
                await asyncio.to_thread(self.reports.webhook_done, wid)
                done += 1
                self.delivered += 1
            else:
                await asyncio.to_thread(self.reports.webhook_later, wid, retry_delay(attempts), why)
                LOG.warning("notification not delivered; will retry", extra={"key": key})
        return done

    async def _post(self, session: aiohttp.ClientSession, key: str, event: str, raw: bytes) -> None:
        await post_signed(session, self.cfg.webhook_url, key, event, raw, self.secret)

    def _mail(self, key: str, note: dict[str, Any]) -> None:
        msg = EmailMessage()
        msg["From"] = self.cfg.mail_from
        msg["To"] = ", ".join(self.cfg.mail_to)
        msg["Subject"] = f"[packstation] {note.get('subject', note.get('kind', ''))}"
        msg["Message-ID"] = f"<{key.replace(':', '.')}@packstation>"  # repeats are recognisable
        lines = [str(note.get("text", "")), ""]
        lines += [f"{k}: {v}" for k, v in sorted(note.items()) if k not in ("text", "subject")]
        msg.set_content("\n".join(lines))
        with smtplib.SMTP(self.cfg.smtp_host, self.cfg.smtp_port, timeout=self.timeout_s) as smtp:
            if self.cfg.smtp_starttls:
                smtp.starttls()
            smtp.send_message(msg)

    async def run(self, poll_s: float) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    await self.drain_once(session)
                except Exception:
                    LOG.exception("notification sender failed")
                await asyncio.sleep(poll_s)
