"""The web layer: the app factory, our routes, and the error mapping. The core never imports it."""
