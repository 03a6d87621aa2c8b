"""Pieces shared by the master, the workers and the clients."""

__version__ = "0.1.0"
