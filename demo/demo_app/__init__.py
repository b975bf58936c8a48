"""A small instrumented web service with a built-in load generator: feeds every signal of the stack."""

__version__ = "0.1.0"
