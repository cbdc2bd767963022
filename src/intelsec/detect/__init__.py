"""Detections: Sigma rules compiled by pySigma to SQLite and run over events, matches become alerts."""

from intelsec.detect.compile import compile_paths, sigma_files
from intelsec.detect.engine import run_rules
from intelsec.detect.models import CompiledRule, Match, RuleProblem

__all__ = ["CompiledRule", "Match", "RuleProblem", "compile_paths", "run_rules", "sigma_files"]
