"""HTTP sinks: a generic JSON webhook (with an Idempotency-Key header) and Slack-compatible webhooks."""

from __future__ import annotations

from typing import Any

import httpx

from intelsec.alerts.sinks.interface import DeliveryError, Sink

SEVERITY_EMOJI = {"critical": ":rotating_light:", "high": ":red_circle:", "medium": ":large_orange_circle:",
                  "low": ":large_blue_circle:", "info": ":white_circle:"}


class WebhookSink(Sink):
    """POSTs the alert as JSON. 2xx = delivered; 408/429/5xx/network errors retry; other 4xx give up."""

    def __init__(self, url: str, name: str = "webhook", timeout: float = 5.0,
                 headers: dict[str, str] | None = None) -> None:
        self.name = name
        self._url = url  # may embed a secret: never put it in messages
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), headers=headers or {}, follow_redirects=False)

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    def deliver(self, payload: dict[str, Any], idempotency_key: str) -> None:
        try:
            resp = self._client.post(
                self._url, json=self.body(payload),
                headers={"Idempotency-Key": idempotency_key, "User-Agent": "intelsec-alerts"},
            )
        except httpx.TimeoutException:
            raise DeliveryError(f"{self.name}: timed out") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{self.name}: {type(exc).__name__}") from None
        if 200 <= resp.status_code < 300:
            return
        retryable = resp.status_code in (408, 425, 429) or resp.status_code >= 500
        raise DeliveryError(f"{self.name}: HTTP {resp.status_code}", retryable=retryable)

    def close(self) -> None:
        self._client.close()


class SlackSink(WebhookSink):
    """Slack incoming-webhook format (also accepted by Mattermost and Rocket.Chat)."""

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        sev = str(payload.get("severity", "medium"))
        title = f"{SEVERITY_EMOJI.get(sev, '')} [{sev.upper()}] {payload.get('rule')}: {payload.get('summary')}"
        fields = [f"*source:* {payload.get('source')}", f"*entity:* {payload.get('entity') or '-'}",
                  f"*count:* {payload.get('count')}", f"*id:* {payload.get('id')}"]
        if payload.get("test"):
            fields.append("*test alert* (not an incident)")
        return {
            "text": title.strip(),
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": title.strip()}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": " | ".join(fields)}]},
            ],
        }
