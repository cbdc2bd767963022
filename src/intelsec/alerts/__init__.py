"""Alert bus: one Alert model, a durable outbox, sinks with retry, MTTA."""

from intelsec.alerts.models import AlertIn, AlertView, Severity
from intelsec.alerts.service import AlertService

__all__ = ["AlertIn", "AlertService", "AlertView", "Severity"]
