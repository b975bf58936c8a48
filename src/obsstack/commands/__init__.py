"""One module per `obsstack` subcommand; each has add_parser(subparsers) and run(args) -> exit status."""
