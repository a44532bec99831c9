"""A Griffe extension for the API reference (mkdocstrings): netsim's docstrings are
prose written for ``help()`` and Sphinx-style readers, with reStructuredText roles
(``:func:`run```) and literal blocks introduced by ``::``. Markdown has neither, so
roles become code spans and ``Example::`` becomes ``Example:`` before the indented
block (which Markdown renders as code)."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|obj|exc|const):`~?([^`]+)`")
LITERAL = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)
DOUBLE = re.compile(r"``([^`]+)``")


def markdown(text: str) -> str:
    text = ROLE.sub(r"`\1`", text)
    text = LITERAL.sub(r"\1:", text)
    return DOUBLE.sub(r"`\1`", text)


class RstToMarkdown(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
