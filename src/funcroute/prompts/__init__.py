"""Pure string builders for every prompt funcroute sends: selection, templates, plans, context."""

from funcroute.prompts.selection import render_tool, selection_prompt
from funcroute.prompts.templates import ChatTemplate, get_template, register_template, template_names

__all__ = [
    "ChatTemplate",
    "get_template",
    "register_template",
    "render_tool",
    "selection_prompt",
    "template_names",
]
