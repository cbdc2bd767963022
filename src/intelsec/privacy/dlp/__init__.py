"""DLP scanner: multi-pattern detection with validators (Luhn, mod-97, ...)."""
