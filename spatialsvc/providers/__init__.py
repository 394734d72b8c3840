"""Our pygeoapi plugins (loaded by dotted path from pygeoapi's configuration)."""
