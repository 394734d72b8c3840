"""Access control: who is calling (keys, tokens), what they may see (policy, masks), and the
applications that grant conditional resources.  Knows nothing about the web: the middleware
calls :func:`spatialsvc.auth.keys.authenticate` or :func:`spatialsvc.auth.tokens.verify`, loads
:func:`spatialsvc.auth.grants.grants_for` once per request and asks
:func:`spatialsvc.auth.policy.decide` for every resource it serves."""
