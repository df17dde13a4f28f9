"""The ``accord`` command line: thin typer wrappers over the capability packages."""
