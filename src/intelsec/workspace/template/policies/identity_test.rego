package identity_test

import data.identity

good := {"peer": {"svid": {"spiffe_id": "spiffe://example.com/ns/prod/sa/api-gw", "trust_domain": "example.com"}}}

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
