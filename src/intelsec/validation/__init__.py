"""Continuous validation: ATT&CK-mapped scenarios with guardrails and a kill switch, drift tests."""
