"""slpdesk: a support desk that runs a service level policy."""

__version__ = "0.1.0"
