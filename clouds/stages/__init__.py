"""The cluster stage types (deploy, server group and cluster operations, rollbacks, find image).

Importing this package registers them with the engine (see ``CloudsConfig.ready``).
"""

from clouds.stages import cluster, deploy, find_image, rollback, server_group

__all__ = ["cluster", "deploy", "find_image", "rollback", "server_group"]
