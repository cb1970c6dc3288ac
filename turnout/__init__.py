"""turnout: high-throughput click redirector and edge tracker."""

__version__ = "0.1.0"
