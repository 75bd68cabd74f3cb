"""One module a CLI command: the asyncio glue between the command line and the library."""
