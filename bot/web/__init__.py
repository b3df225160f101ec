"""Web entry points besides the webhook: mobile pages under `/p/`, the admin API, health, error pages."""
