"""funcroute.plans."""
