"""Operators: wire hooks into tasks."""
