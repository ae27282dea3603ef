"""Run one process in a transient OCI container (runc or crun).

`users.resolve_user` turns a Dockerfile USER into ids, `spec.build_config` writes
Docker's default sandbox as an OCI `config.json`, `container.run` runs it on an
already-mounted root filesystem and always cleans up after itself.
"""
