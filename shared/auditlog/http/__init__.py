"""The HTTP API: the route table, the app that enforces each route's rules, handlers."""
