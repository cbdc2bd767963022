package egress_test

import data.egress

allowlist := {"namespaces": {"prod": ["payments.vendors.com", "telemetry.example.com"]}}

test_unknown_destination_from_unlisted_namespace_denied if {
	msgs := egress.deny with input as {"ns": "dev", "dest": {"host": "paste.example.net", "category": "unknown"}}
		with data.workspace.egress.allowlist as allowlist
	msgs == {"Egress to unknown dest paste.example.net"}
}

test_unknown_destination_not_on_namespace_allowlist_denied if {
	count(egress.deny) == 1 with input as {"ns": "prod", "dest": {"host": "x.example.org", "category": "unknown"}}
		with data.workspace.egress.allowlist as allowlist
}

test_allowlisted_destination_allowed if {
	count(egress.deny) == 0 with input as {"ns": "prod", "dest": {"host": "payments.vendors.com", "category": "unknown"}}
		with data.workspace.egress.allowlist as allowlist
}

test_categorised_destination_not_denied_by_this_rule if {
	count(egress.deny) == 0 with input as {"ns": "dev", "dest": {"host": "github.com", "category": "code-hosting"}}
		with data.workspace.egress.allowlist as allowlist
}
