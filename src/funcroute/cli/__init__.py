"""The ``funcroute`` command: :mod:`~funcroute.cli.main` parses, one module per command does the work.

:mod:`~funcroute.cli.common` holds what commands share (exit codes, the model flags, the backend they
name). The library never imports this package.
"""
