# Every pipeline notifies someone when it fails: a notification whose when lists pipeline.failed.
package spinnaker.persistence.pipelines.before

import rego.v1

on_failure(notification) if "pipeline.failed" in notification.when

on_failure(notification) if {
	is_string(notification.when)
	contains(notification.when, "pipeline.failed")
}

deny contains msg if {
	not any_on_failure
	msg := concat("", [
		"Pipeline ", object.get(input.pipeline, "name", ""),
		" has no failure notification: add one to notifications whose when lists pipeline.failed.",
	])
}

any_on_failure if {
	some notification in object.get(input.pipeline, "notifications", [])
	on_failure(notification)
}
