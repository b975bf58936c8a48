"""obsstack: set up, validate, check and run the observability stack (`obsstack --help`)."""
__version__ = "0.1.0"
