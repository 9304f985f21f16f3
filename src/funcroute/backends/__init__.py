"""Model backends: one small ABC (:class:`Backend`) and its implementations."""

from funcroute.backends.base import Backend, Completion, Request

__all__ = ["Backend", "Completion", "Request"]
