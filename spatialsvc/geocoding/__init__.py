"""Geocoding at scale: one address from the command line, CSV files, and the registers.

The address pipeline itself is :mod:`addressing`; this package runs it over many addresses on
every core (:mod:`.pool`), resumably (:mod:`.batch`, :mod:`.registry`).
"""
