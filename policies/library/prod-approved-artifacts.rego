# A new server group in a prod account runs only an approved artifact version: the reference
# data approved_artifacts maps artifact names to their approved versions,
# e.g. {"shop": ["1.4.2", "1.5.0"]}.
package spinnaker.deployment.tasks.before.createServerGroup

import rego.v1

prod if data.spinweb.accounts[input.deploy.account].environment == "prod"

prod if input.deploy.environment == "prod"

artifact := input.deploy.artifact

approved if artifact.version in data.approved_artifacts[artifact.name]

deny contains msg if {
	prod
	not approved
	msg := concat("", [
		object.get(artifact, "name", "?"), ":", object.get(artifact, "version", "?"), " is not approved for prod (account ",
		input.deploy.account, "): add it to the reference data approved_artifacts.",
	])
}
