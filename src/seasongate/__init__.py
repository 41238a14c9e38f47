"""seasongate: a seasonal business-calendar policy engine that gates database migrations."""
