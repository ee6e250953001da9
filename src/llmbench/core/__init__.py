"""Core: small helpers every other layer may use.

May import: the standard library and third-party packages only (no other ``llmbench`` layer).
"""
