# Only members of a group listed in the reference data prod_deployers (a list of group names,
# e.g. ["release-managers"]) may start by hand a pipeline that deploys to a prod account.
package spinnaker.execution.pipelines.before

import rego.v1

account_of(entry) := object.get(entry, "account", object.get(entry, "credentials", ""))

accounts_of(stage) := {account_of(entry) | some entry in object.get(stage, "clusters", [])} | {account_of(stage)}

prod_accounts contains account if {
	some stage in input.pipeline.stages
	some account in accounts_of(stage)
	data.spinweb.accounts[account].environment == "prod"
}

default groups := []

groups := data.prod_deployers

# Roles are group names; Armory's captured payloads also carry {"name": ...} objects.
role_name(role) := role if is_string(role)

role_name(role) := role.name if is_object(role)

roles := {role_name(role) | some role in input.user.roles}

listed := concat(", ", groups) if count(groups) > 0

listed := "a prod_deployers group (none is configured)" if count(groups) == 0

deployer if {
	some group in groups
	group in roles
}

deny contains msg if {
	input.pipeline.trigger.type == "manual"
	count(prod_accounts) > 0
	not deployer
	accounts := concat(", ", sort([account | some account in prod_accounts]))
	msg := concat("", [
		"Only members of ", listed, " may start a pipeline that deploys to prod (", accounts, ") by hand; ",
		input.user.username, " is not one.",
	])
}
