"""Batches that lose nothing: JSONL in, one record per line out, each handler run at most once.

- :mod:`~funcroute.batch.jsonl`: ``funcroute batch`` over one backend, in chunks, resumable.
- :mod:`~funcroute.batch.stream`: many requests in flight over a fleet of servers.
- :mod:`~funcroute.batch.journal`: the results file and the dispatch journal, read back on resume.
- :mod:`~funcroute.batch.progress`: progress lines.
"""
