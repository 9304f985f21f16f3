"""funcroute.cli.main."""
