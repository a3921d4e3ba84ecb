"""The demo that the README's first command brings up: application ``hello`` on the local cloud.

- ``definitions``: the names (application, account, cluster, load balancer, artifact) and the
  three pipelines (Blue/Green, Rolling Blue/Green, Highlander) with their ``version`` parameter.
- ``seed``: creates what is missing, changes nothing that is already right (safe to re-run).
- ``background``: the detached traffic generator of ``manage.py demo --traffic``.
- ``run_once``: ``manage.py demo --run-once``, a headless blue/green deploy under traffic.
"""
