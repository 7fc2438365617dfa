"""stream-build: build sets of Fedora packages from upstream release-series branches."""

__version__ = "0.1.0"
