"""SBOM -> fix automation: readers, de-duplication, EPSS/KEV ranking, fix plans, PRs, burn-down."""
