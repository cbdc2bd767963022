package identity_test

import data.identity

good := {"peer": {"svid": {"spiffe_id": "spiffe://example.com/ns/prod/sa/api-gw", "trust_domain": "example.com"}}}

svid := {
	"spiffe_id": "spiffe://example.com/ns/prod/sa/api-gw", "trust_domain": "example.com",
	"uri_sans": ["spiffe://example.com/ns/prod/sa/api-gw"],
}

test_attested_caller_allowed if {
	identity.allow with input as good
}

test_missing_svid_denied if {
	"Missing SPIFFE identity" in identity.deny with input as {"peer": {}}
}

test_null_svid_denied if {
	"Missing SPIFFE identity" in identity.deny with input as {"peer": {"svid": null}}
}

test_foreign_trust_domain_denied if {
	some msg in identity.deny with input as {"peer": {"svid": {"trust_domain": "evil.example"}}}
	startswith(msg, "Invalid trust domain evil.example")
	not identity.allow with input as {"peer": {"svid": {"trust_domain": "evil.example"}}}
}

test_verify_errors_denied if {
	inp := {"peer": {"svid": null, "verify_errors": ["certificate has 2 URI SANs; an X.509-SVID has exactly one"]}}
	"Invalid X.509-SVID: certificate has 2 URI SANs; an X.509-SVID has exactly one" in identity.deny with input as inp
}

test_san_mismatch_denied if {
	bad := object.union(svid, {"uri_sans": ["spiffe://example.com/other"]})
	"Certificate URI SAN does not match its SPIFFE ID" in identity.deny with input as {"peer": {"svid": bad}}
}

test_matching_san_allowed if {
	identity.allow with input as {"peer": {"svid": svid}, "request": {"method": "GET", "path": "/"}}
}

test_jwt_audience_enforced if {
	inp := {
		"peer": {"svid": svid}, "destination": {"audience": "payments"},
		"jwt": {"valid": true, "spiffe_id": svid.spiffe_id, "audience": ["ledger"]},
	}
	some msg in identity.deny with input as inp
	startswith(msg, "JWT-SVID audience")
}

test_jwt_right_audience_allowed if {
	inp := {
		"peer": {"svid": svid}, "destination": {"audience": "payments"},
		"jwt": {"valid": true, "spiffe_id": svid.spiffe_id, "audience": ["payments"]},
	}
	identity.allow with input as inp
}

test_jwt_subject_must_match_peer if {
	inp := {
		"peer": {"svid": svid}, "destination": {"audience": "payments"},
		"jwt": {"valid": true, "spiffe_id": "spiffe://example.com/someone-else", "audience": ["payments"]},
	}
	"JWT-SVID subject differs from the mTLS peer" in identity.deny with input as inp
}

test_invalid_jwt_denied if {
	inp := {"peer": {"svid": svid}, "jwt": {"valid": false, "reasons": ["algorithm 'none' is not allowed"]}}
	"Invalid JWT-SVID: algorithm 'none' is not allowed" in identity.deny with input as inp
}

authz := [{
	"service": "spiffe://example.com/ns/prod/sa/ledger",
	"allow": [{"callers": ["spiffe://example.com/ns/*/sa/payments"], "methods": ["GET"], "paths": ["/v1/**"]}],
}]

to_ledger(caller, method, path) := {
	"peer": {"svid": {"spiffe_id": caller, "trust_domain": "example.com", "uri_sans": [caller]}},
	"request": {"method": method, "path": path},
	"destination": {"spiffe_id": "spiffe://example.com/ns/prod/sa/ledger"},
}

test_authz_listed_caller_allowed if {
	inp := to_ledger("spiffe://example.com/ns/prod/sa/payments", "GET", "/v1/entries/7")
	identity.allow with input as inp with data.workspace.identity.authz as authz
}

test_authz_other_caller_denied if {
	inp := to_ledger("spiffe://example.com/ns/prod/sa/api-gw", "GET", "/v1/entries/7")
	some msg in identity.deny with input as inp with data.workspace.identity.authz as authz
	contains(msg, "may not GET /v1/entries/7")
}

test_authz_method_and_path_enforced if {
	post := to_ledger("spiffe://example.com/ns/prod/sa/payments", "POST", "/v1/entries")
	not identity.allow with input as post with data.workspace.identity.authz as authz
	admin := to_ledger("spiffe://example.com/ns/prod/sa/payments", "GET", "/admin")
	not identity.allow with input as admin with data.workspace.identity.authz as authz
}

test_unlisted_service_accepts_any_attested_caller if {
	inp := object.union(to_ledger("spiffe://example.com/ns/prod/sa/api-gw", "DELETE", "/x"),
		{"destination": {"spiffe_id": "spiffe://example.com/ns/prod/sa/other"}})
	identity.allow with input as inp with data.workspace.identity.authz as authz
}
