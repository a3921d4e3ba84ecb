# A wait stage waits one hour at most (waitTime in seconds, after expressions are evaluated).
package spinnaker.execution.stages.before.wait

import rego.v1

max_seconds := 3600

wait := input.stage.context.waitTime

seconds := wait if is_number(wait)

# A string that is not a number leaves ``seconds`` undefined (to_number fails): nothing to refuse.
seconds := to_number(wait) if is_string(wait)

deny contains msg if {
	seconds > max_seconds
	limits := sprintf(" waits %v seconds; waits are limited to %d seconds.", [seconds, max_seconds])
	msg := concat("", ["Stage ", input.stage.name, limits])
}
