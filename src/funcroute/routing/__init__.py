"""funcroute.routing."""
