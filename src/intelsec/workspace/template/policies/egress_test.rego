package egress_test

import data.egress

allowlist := {"namespaces": {
	"prod": ["payments.vendors.com", "telemetry.example.com"],
	"payments": ["*.stripe.com", "**.vendors.com", "203.0.113.0/24"],
}}

categories := {
	"paste-sites": {"risk": "high", "approved": false},
	"package-registries": {"risk": "low", "approved": true},
	"file-sharing": {"risk": "medium", "approved": false},
}

enforcement := {"default_environment": "prod", "environments": {
	"staging": {"mode": "enforce", "categories": {}, "namespaces": {}},
	"prod": {"mode": "audit", "categories": {"paste-sites": "enforce"}, "namespaces": {"batch": "enforce"}},
}}

exceptions := [{
	"id": "SEC-1", "namespace": "dev", "destination": "files.partner.io", "category": null,
	"ticket": "SEC-1", "owner": "alice", "expires": "2030-01-01T00:00:00+00:00",
}]

ws := {"allowlist": allowlist, "categories": categories, "enforcement": enforcement, "exceptions": exceptions}

flow(env, ns, host, category) := {"env": env, "ns": ns, "dest": {"host": host, "port": 443, "category": category}}

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

test_staging_blocks_non_approved if {
	d := egress.decision with input as flow("staging", "dev", "x.io", "unknown") with data.workspace.egress as ws
	d.verdict == "block"
	"enforce mode in staging" in d.reasons
}

test_prod_logs_non_approved if {
	d := egress.decision with input as flow("prod", "dev", "x.io", "unknown") with data.workspace.egress as ws
	d.verdict == "log"
}

test_prod_blocks_high_risk_category if {
	d := egress.decision with input as flow("prod", "dev", "pastebin.com", "paste-sites") with data.workspace.egress as ws
	d.verdict == "block"
	"high-risk category paste-sites" in d.reasons
}

test_prod_namespace_override_enforces if {
	d := egress.decision with input as flow("prod", "batch", "x.io", "unknown") with data.workspace.egress as ws
	d.verdict == "block"
}

test_allowlist_patterns_and_cidrs if {
	egress.decision.verdict == "allow" with input as flow("staging", "payments", "api.stripe.com", "unknown")
		with data.workspace.egress as ws
	egress.decision.verdict == "block" with input as flow("staging", "payments", "a.b.stripe.com", "unknown")
		with data.workspace.egress as ws
	egress.decision.verdict == "allow" with input as flow("staging", "payments", "a.b.vendors.com", "unknown")
		with data.workspace.egress as ws
	egress.decision.verdict == "allow" with input as {"env": "staging", "ns": "payments", "dest": {"ip": "203.0.113.7", "category": "unknown"}}
		with data.workspace.egress as ws
}

test_approved_category_allowed_everywhere if {
	d := egress.decision with input as flow("staging", "dev", "pypi.org", "package-registries") with data.workspace.egress as ws
	d.verdict == "allow"
}

test_exception_allows_and_is_reported if {
	d := egress.decision with input as flow("staging", "dev", "files.partner.io", "unknown") with data.workspace.egress as ws
	d.verdict == "allow"
	d.exception == "SEC-1"
	count(egress.deny) == 0 with input as flow("staging", "dev", "files.partner.io", "unknown")
		with data.workspace.egress as ws
}

test_exception_is_per_namespace if {
	d := egress.decision with input as flow("staging", "web", "files.partner.io", "unknown") with data.workspace.egress as ws
	d.verdict == "block"
	d.exception == null
}

test_internal_flows_not_judged if {
	d := egress.decision with input as {"env": "staging", "ns": "dev", "internal": true, "dest": {"ip": "10.0.0.1", "category": "unknown"}}
		with data.workspace.egress as ws
	d.verdict == "internal"
}
