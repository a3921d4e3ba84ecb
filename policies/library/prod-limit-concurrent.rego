# A pipeline that deploys to a prod account keeps limitConcurrent on: two runs never deploy at once.
package spinnaker.persistence.pipelines.before

import rego.v1

account_of(entry) := object.get(entry, "account", object.get(entry, "credentials", ""))

accounts_of(stage) := {account_of(entry) | some entry in object.get(stage, "clusters", [])} | {account_of(stage)}

prod_accounts contains account if {
	some stage in input.pipeline.stages
	some account in accounts_of(stage)
	data.spinweb.accounts[account].environment == "prod"
}

deny contains msg if {
	count(prod_accounts) > 0
	object.get(input.pipeline, "limitConcurrent", true) == false
	accounts := concat(", ", sort([account | some account in prod_accounts]))
	msg := concat("", [
		"Pipeline ", object.get(input.pipeline, "name", ""), " deploys to prod (", accounts,
		"): keep limitConcurrent on so two runs never deploy at once.",
	])
}
