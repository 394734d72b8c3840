"""The address pipeline: normalize ▸ parse ▸ match ▸ score.

Each stage is a module that can be used and tested alone; dictionaries are data files under
``addressing/data``. Nothing here imports the web layer.
"""
