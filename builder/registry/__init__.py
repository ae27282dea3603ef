"""OCI distribution client: auth, credentials, pull, push, blob mounts."""
