"""Sensors: wait on real-time systems; each shares its evaluator with its trigger."""
