"""Retrieval evaluation through the public API. A development tool: never imported by the functions."""
