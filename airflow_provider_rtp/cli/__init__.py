"""Command-line entry points: ``rtp-completeness`` and ``rtp-lag-exporter``."""
