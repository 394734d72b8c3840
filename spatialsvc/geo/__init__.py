"""Coordinate reference systems and the Chinese GCJ-02 / BD-09 offsets."""
