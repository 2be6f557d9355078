"""Thin entrypoints over the services: the HTTP app and the operators' CLI."""
