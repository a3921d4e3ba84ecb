# A resize in a prod account stays within the reference data prod_capacity, e.g. {"max": 20}:
# neither the desired nor the maximum size of the server group may go above it.
package spinnaker.deployment.tasks.before.resizeServerGroup

import rego.v1

prod if data.spinweb.accounts[input.deploy.account].environment == "prod"

prod if input.deploy.environment == "prod"

limit := data.prod_capacity.max

deny contains msg if {
	prod
	some field in ["desired", "max"]
	size := input.deploy.capacity[field]
	size > limit
	sizes := sprintf(" %d goes above the prod limit of %d instances.", [size, limit])
	msg := concat("", ["Resizing ", input.deploy.serverGroup, " in the prod account ", input.deploy.account, " to ", field, sizes])
}

deny contains "No prod capacity limit is configured: add the reference data prod_capacity {max}." if {
	prod
	not data.prod_capacity.max
}
