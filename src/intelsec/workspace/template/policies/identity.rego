# Rejects callers that are not attested: no SPIFFE identity, or one from a foreign trust domain.
# Input (from `intelsec identity sidecar`):
#   peer.svid        {spiffe_id, trust_domain, path, uri_sans, dns_sans} or null when unattested
#   peer.verify_errors  why the presented certificate is not a valid X.509-SVID
#   request          {method, path}
#   jwt              {valid, spiffe_id, audience, reasons} when a JWT-SVID was presented, else null
#   destination      {spiffe_id, audience} of the service behind the sidecar
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

# Why the certificate is not an SVID (two URI SANs, a CA certificate, expired...).
deny contains sprintf("Invalid X.509-SVID: %v", [reason]) if {
	some reason in input.peer.verify_errors
}

# Cert SAN check: the SVID's only URI SAN is its SPIFFE ID.
deny contains "Certificate URI SAN does not match its SPIFFE ID" if {
	input.peer.svid.uri_sans
	input.peer.svid.uri_sans != [input.peer.svid.spiffe_id]
}

# Audience binding: a JWT-SVID sent along must be valid, name this service, and match the mTLS peer.
deny contains sprintf("Invalid JWT-SVID: %v", [concat("; ", input.jwt.reasons)]) if {
	input.jwt
	not input.jwt.valid
}

deny contains msg if {
	input.jwt.valid
	input.destination.audience
	not input.destination.audience in input.jwt.audience
	msg := sprintf("JWT-SVID audience %v does not include %v", [input.jwt.audience, input.destination.audience])
}

deny contains "JWT-SVID subject differs from the mTLS peer" if {
	input.jwt.valid
	input.peer.svid.spiffe_id
	input.jwt.spiffe_id != input.peer.svid.spiffe_id
}

# Caller allow-lists per destination service (identity/authz.yaml).
authz := object.get(data, ["workspace", "identity", "authz"], [])

# An array, not a set: the whole package is returned to the sidecar, and sets of objects do not
# survive the trip into Python.
service_rules := [rule |
	some svc in authz
	svc.service == input.destination.spiffe_id
	some rule in svc.allow
]

deny contains msg if {
	count(service_rules) > 0
	input.peer.svid.spiffe_id
	not caller_permitted
	msg := sprintf("%v may not %v %v on %v", [
		input.peer.svid.spiffe_id, input.request.method,
		input.request.path, input.destination.spiffe_id,
	])
}

caller_permitted if {
	some rule in service_rules
	some caller in rule.callers
	glob.match(caller, ["/"], input.peer.svid.spiffe_id)
	method_permitted(rule)
	some pattern in object.get(rule, "paths", ["/**"])
	glob.match(pattern, ["/"], input.request.path)
}

method_permitted(rule) if object.get(rule, "methods", null) == null

method_permitted(rule) if input.request.method in rule.methods

default allow := false

allow if count(deny) == 0
