"""``python -m mailbridge`` runs the command-line interface."""

from mailbridge.cli import cli

if __name__ == "__main__":
    cli()
