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
