"""Songforge: self-hosted music generation behind the TemPolor APIs."""

__version__ = "0.1.0"
