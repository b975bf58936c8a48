"""Shared code of the stack's scripts: .env, Compose, preflight and config validation."""
