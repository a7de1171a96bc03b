"""The command line: thin typer commands over library functions; errors become messages and exit codes here."""
