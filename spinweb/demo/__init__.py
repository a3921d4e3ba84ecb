"""The demo that the README's first command brings up: application ``hello`` on the local cloud.

- ``definitions``: the names (application, account, cluster, load balancer, artifact) and the
  four pipelines (Blue/Green, Rolling Blue/Green, Highlander, Canary) with their ``version``
  parameter, and the canary config ``hello-canary``.
- ``seed``: creates what is missing, changes nothing that is already right (safe to re-run).
- ``background``: the detached traffic generator of ``manage.py demo --traffic``.
- ``run_once``: ``manage.py demo --run-once``, a headless blue/green deploy under traffic.
- ``run_canary``: ``manage.py demo --run-once --canary``, a good and a bad release through the canary.
"""
