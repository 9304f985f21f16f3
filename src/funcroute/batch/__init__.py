"""funcroute.batch."""
