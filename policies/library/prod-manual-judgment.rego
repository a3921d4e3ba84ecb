# A deploy to an account whose environment is prod needs a manual judgment upstream of it
# (directly or through other stages, following requisiteStageRefIds).
package spinnaker.persistence.pipelines.before

import rego.v1

deploy_types := {"deploy", "createServerGroup"}

account_of(entry) := object.get(entry, "account", object.get(entry, "credentials", ""))

accounts_of(stage) := {account_of(entry) | some entry in object.get(stage, "clusters", [])} | {account_of(stage)}

requisites := {stage.refId: object.get(stage, "requisiteStageRefIds", []) | some stage in input.pipeline.stages}

judged_before(stage) if {
	some ref in graph.reachable(requisites, object.get(stage, "requisiteStageRefIds", []))
	some other in input.pipeline.stages
	other.refId == ref
	other.type == "manualJudgment"
}

deny contains msg if {
	some stage in input.pipeline.stages
	stage.type in deploy_types
	some account in accounts_of(stage)
	data.spinweb.accounts[account].environment == "prod"
	not judged_before(stage)
	name := object.get(stage, "name", stage.type)
	msg := concat("", ["Stage ", name, " (refId ", sprintf("%v", [stage.refId]), ") deploys to the prod account ", account, ": add a manualJudgment stage before it."])
}
