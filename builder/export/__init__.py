"""Image exchange formats: docker-archive, OCI layout and archive, rootfs import."""
