"""Routers of the useapi.net TemPolor v1 dialect, mounted under /v1/tempolor."""
