"""Offline routing, no language model: sentence embeddings, retrieval, and values read from the command.

- :mod:`~funcroute.offline.encoder`: the bundled all-MiniLM-L6-v2 sentence encoder, cached on disk.
- :mod:`~funcroute.offline.retrieval`: score every tool against a command (dense + lexical).
- :mod:`~funcroute.offline.mentions`: the values a command mentions (numbers, quotes, addresses...);
  :mod:`~funcroute.offline.fit` and :mod:`~funcroute.offline.extract` place them in parameters.
- :mod:`~funcroute.offline.selector`: the semantic selector that ties them together.

Nothing is re-exported here: the encoder's dependencies (torch, numpy) load only when used.
"""
