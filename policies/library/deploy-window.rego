# Deploy stages start only inside the window of the reference data deploy_window:
# {"days": ["Monday", ...], "startHour": 9, "endHour": 17, "timeZone": "Europe/Paris"} (timeZone
# defaults to UTC; a window whose startHour is after its endHour runs over midnight). A run whose
# trigger parameter overrideDeployWindow is "true" deploys anyway.
package spinnaker.execution.stages.before.deploy

import rego.v1

window := data.deploy_window

zone := object.get(window, "timeZone", "UTC")

clock := time.clock([input.meta.timeNs, zone])

day := time.weekday([input.meta.timeNs, zone])

in_hours if {
	window.startHour <= window.endHour
	clock[0] >= window.startHour
	clock[0] < window.endHour
}

in_hours if {
	window.startHour > window.endHour
	clock[0] >= window.startHour
}

in_hours if {
	window.startHour > window.endHour
	clock[0] < window.endHour
}

open if {
	day in window.days
	in_hours
}

overridden if lower(sprintf("%v", [input.pipeline.trigger.parameters.overrideDeployWindow])) == "true"

deny contains "No deploy window is configured: add the reference data deploy_window {days, startHour, endHour, timeZone}." if {
	not data.deploy_window
}

deny contains msg if {
	not open
	not overridden
	hours := sprintf("from %02d:00 to %02d:00", [window.startHour, window.endHour])
	now := sprintf("%02d:%02d", [clock[0], clock[1]])
	msg := concat("", [
		"Deploys run on ", concat(", ", window.days), " ", hours, " (", zone, "); it is ", day, " ", now,
		" there. Start the run with overrideDeployWindow=true to deploy anyway.",
	])
}
