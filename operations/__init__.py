"""Operations: health endpoints for monitors and load balancers (``health``, ``views``) and alerts
to support staff when something needs a person (``alerts``, ``subscribers``, ``tasks``).

The top layer, beside ``console`` and ``demo``: it imports the apps below and nothing imports it
but ``config``. It learns what happened from the apps' domain events (``core.events``).
"""
