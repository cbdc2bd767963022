"""Rego policy engine (embedded regorus) with decisions that carry reasons and a policy digest."""

from intelsec.policy.engine import Decision, Engine, PolicySource

__all__ = ["Decision", "Engine", "PolicySource"]
