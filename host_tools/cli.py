"""The `gullwing` command line: a thin layer over the host_tools modules."""

import click

from host_tools import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gullwing")
def cli():
    """Flash, deploy, control and simulate gullwing boards (animated Autozam AZ-1 models)."""


def main():
    cli()
