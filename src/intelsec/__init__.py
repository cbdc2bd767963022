"""intelsec: security controls as code, enforced and measured."""

__version__ = "0.1.0"
