"""seasongate: a seasonal business-calendar policy engine that gates database migrations."""

__version__ = "0.1.0"
