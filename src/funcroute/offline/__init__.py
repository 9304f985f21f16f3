"""funcroute.offline."""
