"""Extra links shown on task instances."""
