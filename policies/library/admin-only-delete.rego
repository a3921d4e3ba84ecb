# Only administrators send DELETE requests (pages and API); every other request is allowed.
# Once any authz policy is enabled, requests are refused unless one allows them, so this policy
# allows everything else explicitly.
package spinnaker.http.authz

import rego.v1

default allow := false

allow if input.method != "DELETE"

allow if input.user.isAdmin == true

message := "Only administrators may delete." if not allow
