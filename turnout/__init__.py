"""turnout: high-throughput click redirector and edge tracker."""

from turnout.compiled import install_guard

__version__ = "0.1.0"

install_guard()  # no compiled module runs unless it was built from its current source
