"""Lint rules, in three families (see builder.lint.model)."""
