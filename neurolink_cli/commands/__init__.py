"""Thin Click modules: options, then one call into the core."""
