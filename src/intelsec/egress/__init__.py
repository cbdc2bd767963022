"""Egress governance: flow readers, categories, Rego decisions, exceptions, proxy, renderers, drift."""
