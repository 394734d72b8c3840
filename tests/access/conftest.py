"""The access fixtures (callers of every kind, the application with access control on)
live in tests/conftest.py, so that every test package can use them."""
