"""Privacy-safe telemetry: FF1/FF3-1 tokenization, key providers, audited detokenization, DLP."""
