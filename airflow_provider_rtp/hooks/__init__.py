"""Hooks: each talks to one system and owns its connection and clients."""
