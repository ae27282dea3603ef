"""OCI and Docker image formats: references, media types, configs, manifests."""
