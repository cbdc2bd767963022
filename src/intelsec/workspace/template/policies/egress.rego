# Egress to an uncategorised ("unknown") destination is denied unless the source namespace's
# allowlist (egress/allowlist.yaml) approves that destination.
package egress

approved_destinations := object.get(data, ["workspace", "egress", "allowlist", "namespaces", input.ns], [])

deny contains msg if {
	input.dest.category == "unknown"
	not input.dest.host in approved_destinations
	msg := sprintf("Egress to unknown dest %v", [input.dest.host])
}
