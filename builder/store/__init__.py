"""The local content store: blobs, image refs, snapshots, locks, garbage collection."""
