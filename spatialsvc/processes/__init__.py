"""OGC API - Processes: the geocoder's processors and the PostgreSQL job manager.

pygeoapi loads both by dotted path from its configuration (see
:mod:`spatialsvc.pygeoapi_config`): ``geocode``, ``reverse-geocode`` and ``geocode-batch`` in
:mod:`spatialsvc.processes.geocode`; :class:`spatialsvc.processes.manager.JobManager` keeps
jobs in ``meta.process_job`` so that several service workers share them.
"""
