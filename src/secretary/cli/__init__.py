"""The command-line edge (Typer + Rich). Commands parse arguments and call services."""
