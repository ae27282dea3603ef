"""Containers from stored images: `pybuild run`, `ps`, `rm`, `commit`, `diff`.

A container is a directory `<store>/containers/<id>/` with its record
(`container.json`, `record.py`) and its overlay work dir `rootfs/`
(`upper/` keeps its changes after it exits). It runs on the runtime, sandbox
and overlay snapshots that RUN steps use.
"""
