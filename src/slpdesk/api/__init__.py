"""slpdesk's REST API (``/api/v1/``), built with django-ninja: personal API tokens,
idempotent case creation, per-token rate limits, and the token pages of the web UI."""
