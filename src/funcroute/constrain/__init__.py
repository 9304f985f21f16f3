"""Constrained decoding: turn a reply's JSON Schema into something a decoder can enforce.

:func:`funcroute.constrain.gbnf.schema_to_gbnf` writes a compact llama.cpp GBNF grammar (used by the
in-process llama.cpp backend and sent to llama.cpp-compatible servers). The grammar admits no free
whitespace between JSON tokens, so a weak model cannot stall by emitting spaces forever.
"""
