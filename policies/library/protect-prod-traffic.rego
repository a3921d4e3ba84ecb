# A server group in a prod account that takes traffic (enabled, weight not 0) is not destroyed.
# Spinweb's destroyServerGroup stage disables its target before destroying it, so the moment to
# refuse is that disable, asked by a destroy stage: take the group out of service on purpose first
# (a disableServerGroup stage, or a deployment strategy), then destroy it.
package spinnaker.deployment.tasks.before.disableServerGroup

import rego.v1

prod if data.spinweb.accounts[input.deploy.account].environment == "prod"

prod if input.deploy.environment == "prod"

deny contains msg if {
	prod
	input.deploy.stageType == "destroyServerGroup"
	current := input.deploy.current
	current.enabled == true
	not current.weight == 0
	msg := concat("", [
		current.name, " in the prod account ", input.deploy.account, " takes traffic (weight ",
		sprintf("%v", [current.weight]), "): disable it in a stage of its own before destroying it.",
	])
}
