"""Controls workspace: `intelsec init` scaffolding and `intelsec config validate`."""
