# Rejects callers that are not attested: no SPIFFE identity, or one from a foreign trust domain.
package identity

# The trust domain comes from intelsec.yaml (data.workspace.config.trust_domain).
default trust_domain := "example.com"

trust_domain := data.workspace.config.trust_domain

deny contains "Missing SPIFFE identity" if not input.peer.svid

deny contains "Missing SPIFFE identity" if input.peer.svid == null

deny contains msg if {
	input.peer.svid.trust_domain != trust_domain
	msg := sprintf("Invalid trust domain %v (expected %v)", [input.peer.svid.trust_domain, trust_domain])
}

default allow := false

allow if count(deny) == 0
