"""Checks made before a scenario runs: where, how much, and as whom."""

from __future__ import annotations

from intelsec.validation.actions import Action
from intelsec.validation.schemas import Scenario, ValidationSettings


def principal_for(scenario: Scenario, settings: ValidationSettings) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in scenario.name.lower()).strip("-")
    return scenario.principal or f"{settings.synthetic_prefix}{slug}"[:64]


def violations(scenario: Scenario, settings: ValidationSettings, environment: str,
               actions: dict[str, Action]) -> list[str]:
    """Every reason this scenario must not run here; empty means it may."""
    out: list[str] = []
    if environment not in settings.allowed_environments:
        out.append(f"environment {environment!r} is not in allowed_environments {settings.allowed_environments}")
    if scenario.environments is not None and environment not in scenario.environments:
        out.append(f"scenario is limited to environments {scenario.environments}")
    if len(scenario.steps) > settings.max_steps_per_run:
        out.append(f"{len(scenario.steps)} steps exceed max_steps_per_run={settings.max_steps_per_run}")
    total = sum(s.repeat for s in scenario.steps)
    if total > settings.max_events_per_run:
        out.append(f"{total} simulated actions exceed max_events_per_run={settings.max_events_per_run}")
    principal = principal_for(scenario, settings)
    if not principal.startswith(settings.synthetic_prefix):
        out.append(f"principal {principal!r} is not synthetic (must start with {settings.synthetic_prefix!r})")
    for n, step in enumerate(scenario.steps, 1):
        action = actions.get(step.action)
        if action is None:
            out.append(f"step {n}: unknown action {step.action!r} (known: {', '.join(sorted(actions))})")
            continue
        if step.repeat > settings.max_repeats_per_step:
            out.append(f"step {n}: repeat {step.repeat} exceeds max_repeats_per_step={settings.max_repeats_per_step}")
        for param in action.principal_params:
            value = step.params.get(param)
            if value is not None and not str(value).startswith(settings.synthetic_prefix):
                out.append(f"step {n}: {param} {value!r} is not synthetic (must start with "
                           f"{settings.synthetic_prefix!r})")
    return out
