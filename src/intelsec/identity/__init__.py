"""Attested workload identity: SPIFFE IDs, local CA, Workload API, mTLS sidecar, credential broker."""
