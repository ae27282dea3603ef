"""Layer snapshots: safe layer apply, deterministic layer tars, compression."""
