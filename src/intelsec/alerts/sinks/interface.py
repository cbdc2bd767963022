"""The sink contract: deliver one alert payload, idempotently keyed, or raise DeliveryError."""

from __future__ import annotations

import abc
from typing import Any


class DeliveryError(Exception):
    """Delivery failed. `retryable` False means retrying cannot help (e.g. HTTP 400)."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sink(abc.ABC):
    name: str

    @abc.abstractmethod
    def deliver(self, payload: dict[str, Any], idempotency_key: str) -> None:
        """Deliver or raise DeliveryError. Must be safe to call twice with the same key."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP clients, file handles)."""
