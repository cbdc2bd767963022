# Egress governance.
#
# `deny` answers the plain question "is this uncategorised destination approved for the namespace?".
# `decision` is what `intelsec egress eval` and the enforcing proxy use: allow, log or block, with
# reasons, from the flow's category, the namespace allowlist, active exceptions and the mode that
# egress/enforcement.yaml sets for the environment, namespace and category.
#
# Input: {"env": "staging", "ns": "payments", "internal": false,
#         "dest": {"host": "api.vendor.com", "ip": "203.0.113.9", "port": 443, "category": "unknown"}}
# Data (loaded by intelsec): data.workspace.egress.{allowlist, categories, exceptions, enforcement};
# `exceptions` holds only exceptions that have not expired.
package egress

egress := object.get(data, ["workspace", "egress"], {})

dest := object.get(input, "dest", {})

dest_host := lower(object.get(dest, "host", ""))

dest_ip := object.get(dest, "ip", "")

category := object.get(dest, "category", "unknown")

env := object.get(input, "env", object.get(egress, ["enforcement", "default_environment"], "prod"))

approved_destinations := object.get(egress, ["allowlist", "namespaces", input.ns], [])

# Allowlist entries: exact names, `*.` (one label) and `**.` (any depth) patterns, and CIDRs.
matches(entry) if {
	not contains(entry, "/")
	not startswith(entry, "*")
	entry == dest_host
}

matches(entry) if {
	startswith(entry, "*")
	glob.match(entry, ["."], dest_host)
}

matches(entry) if {
	contains(entry, "/")
	dest_ip != ""
	net.cidr_contains(entry, dest_ip)
}

allowlist_hits contains entry if {
	some entry in approved_destinations
	matches(entry)
}

category_info := object.get(egress, ["categories", category], {})

category_approved if category_info.approved == true

exception_applies(e) if e.category == category

exception_applies(e) if {
	is_string(e.destination)
	matches(e.destination)
}

exception_hits contains e if {
	some e in object.get(egress, "exceptions", [])
	e.namespace in {input.ns, "*"}
	exception_applies(e)
}

deny contains msg if {
	category == "unknown"
	count(allowlist_hits) == 0
	count(exception_hits) == 0
	msg := sprintf("Egress to unknown dest %v", [input.dest.host])
}

# Modes: a category or namespace override wins over the environment default; if any override says
# enforce, the flow is enforced.
env_modes := object.get(egress, ["enforcement", "environments", env], {})

explicit_modes contains m if m := env_modes.categories[category]

explicit_modes contains m if m := env_modes.namespaces[input.ns]

mode := "enforce" if {
	"enforce" in explicit_modes
} else := "audit" if {
	count(explicit_modes) > 0
} else := object.get(env_modes, "mode", "audit")

internal if input.internal == true

approved if count(allowlist_hits) > 0

approved if category_approved

excepted if {
	not approved
	count(exception_hits) > 0
}

verdict := "internal" if {
	internal
} else := "allow" if {
	approved
} else := "allow" if {
	excepted
} else := "block" if {
	mode == "enforce"
} else := "log"

destination := dest_host if dest_host != "" else := dest_ip

exception_used := ids[0] if {
	verdict == "allow"
	excepted
	ids := sort([e.id | some e in exception_hits])
} else := null

reasons contains "in-cluster destination: counted, not judged" if internal

reasons contains msg if {
	not internal
	some entry in allowlist_hits
	msg := sprintf("approved for namespace %v by allowlist entry %v", [input.ns, entry])
}

reasons contains msg if {
	not internal
	category_approved
	msg := sprintf("category %v is approved for every namespace", [category])
}

reasons contains msg if {
	not internal
	excepted
	some e in exception_hits
	e.id == exception_used
	msg := sprintf("exception %v (ticket %v, owner %v) until %v", [e.id, e.ticket, e.owner, e.expires])
}

reasons contains msg if {
	verdict in {"log", "block"}
	msg := sprintf("destination %v (category %v) is not approved for namespace %v", [destination, category, input.ns])
}

reasons contains msg if {
	verdict in {"log", "block"}
	msg := sprintf("%v mode in %v", [mode, env])
}

reasons contains msg if {
	verdict in {"log", "block"}
	category_info.risk in {"high", "critical"}
	msg := sprintf("high-risk category %v", [category])
}

decision := {
	"verdict": verdict,
	"reasons": sort([r | some r in reasons]),
	"mode": mode,
	"category": category,
	"namespace": input.ns,
	"destination": destination,
	"exception": exception_used,
}
