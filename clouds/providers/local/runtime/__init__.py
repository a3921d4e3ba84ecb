"""The local cloud's runtime: long-lived processes that outlive the web server and the workers.

- ``supervisor``: one per home directory; runs server groups (N real processes each) and load
  balancers (one ``proxy`` process each); controlled over a Unix socket. Its module docstring is
  the reference for the state file, adoption and the control API.
- ``client``: ``SupervisorClient``, the typed way to talk to (and start) a supervisor.
- ``proxy``: the load balancer, an HTTP reverse proxy with live traffic weights and drain.
- ``sample_app``: the demo application whose versions can be told to be slow, to fail or to be
  unhealthy.

Plain Python plus prometheus-client: nothing here imports Django, so these processes stay small
and never need the database.
"""
