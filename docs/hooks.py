"""MkDocs hooks: pages generated from the code at build time.

Two markers are replaced while the site is built, so the pages cannot drift from the
code (nothing generated is checked in):

- ``<!-- netsim:scenario-reference -->`` (scenarios.md): one table per section of the
  scenario schema, walked from :class:`netsim.scenario.Scenario` (pydantic): dotted key,
  type, default, bounds and choices, and the description (the field's docstring). The
  types and bounds are read from ``Scenario.model_json_schema()``, the JSON schema that
  ``netsim schema`` prints; the defaults from the models themselves (the JSON schema
  omits defaults made by a factory).
- ``<!-- netsim:cli-help -->`` (cli.md): every command's ``--help`` text, as
  ``netsim COMMAND --help`` prints it (click's plain layout, without rich's frames).

A page that holds a marker which cannot be generated fails the build.
"""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Any

from pydantic import BaseModel

SCENARIO_MARKER = "<!-- netsim:scenario-reference -->"
CLI_MARKER = "<!-- netsim:cli-help -->"
HELP_WIDTH = 88


# ---------------------------------------------------------------------- mkdocs hooks
def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if SCENARIO_MARKER in markdown:
        markdown = markdown.replace(SCENARIO_MARKER, scenario_reference())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown


# ------------------------------------------------------------------ scenario tables
def _own_doc(cls: type) -> str:
    return cls.__dict__.get("__doc__") or ""


def _model_variants(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field holds: one, the members of a union of models, or none."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if members and all(isinstance(a, type) and issubclass(a, BaseModel) for a in members):
            return members
    return []


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        return defs[prop["$ref"].rsplit("/", 1)[1]]
    return prop


_TYPES = {"integer": "int", "number": "float", "string": "str", "boolean": "bool",
          "null": "null"}


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short type name for a JSON-schema property."""
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[1]
    for union in ("anyOf", "oneOf"):
        if union in prop:
            return " or ".join(dict.fromkeys(_type(p, defs) for p in prop[union]))
    kind = prop.get("type")
    if kind == "array":
        if "prefixItems" in prop:
            return "[" + ", ".join(_type(p, defs) for p in prop["prefixItems"]) + "]"
        items = prop.get("items")
        return f"list of {_type(items, defs)}" if items else "list"
    if kind == "object":
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict):
            return f"mapping of str to {_type(extra, defs)}" if extra else "mapping"
        return "mapping"
    if kind is None:
        return "any"
    return _TYPES.get(kind, kind)


def _number(value: float) -> str:
    """The shortest exact writing of a number: 600 rather than 600.0, 1.5e9 rather than
    1500000000.0."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    text = repr(value).removesuffix(".0").replace("e+", "e")
    if value.is_integer() and abs(value) >= 1e6 and "e" not in text:
        mantissa, exponent = f"{value:.15e}".split("e")
        short = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        if float(short) == value and len(short) < len(text):
            text = short
    return text


def _bounds(prop: dict[str, Any]) -> list[str]:
    out = []
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                      ("exclusiveMaximum", "<")):
        if key in prop:
            out.append(f"{sign} {_number(float(prop[key])) if isinstance(prop[key], float) else prop[key]}")
    if "enum" in prop:
        out.append("one of " + ", ".join(f"`{v}`" for v in prop["enum"]))
    if "const" in prop:
        out.append(f"`{prop['const']}`")
    if "minItems" in prop and prop.get("minItems") == prop.get("maxItems"):
        out.append(f"exactly {prop['minItems']} items")
    else:
        if "minItems" in prop:
            out.append(f"at least {prop['minItems']} item{'s' if prop['minItems'] != 1 else ''}")
        if "maxItems" in prop:
            out.append(f"at most {prop['maxItems']} items")
    if "minProperties" in prop:
        out.append(f"at least {prop['minProperties']} key{'s' if prop['minProperties'] != 1 else ''}")
    return out


def _constraints(prop: dict[str, Any], defs: dict[str, Any], sep: str = "; ") -> str:
    parts = _bounds(prop)
    for union in ("anyOf", "oneOf"):
        for member in prop.get(union, []):
            if "$ref" not in member:
                parts += [p for p in _constraints(member, defs, "\0").split("\0") if p]
    if prop.get("type") == "array":
        inner = [_constraints(p, defs, " and ") for p in prop.get("prefixItems", [])]
        inner = [c for c in dict.fromkeys(inner) if c]
        if "items" in prop and isinstance(prop["items"], dict):
            inner += [c for c in [_constraints(prop["items"], defs, " and ")] if c]
        parts += [f"each {c}" for c in inner]
    if prop.get("type") == "object" and isinstance(prop.get("additionalProperties"), dict):
        inner = _constraints(prop["additionalProperties"], defs, " and ")
        if inner:
            parts.append(f"each value {inner}")
    return sep.join(dict.fromkeys(parts))


def _value(value: Any) -> str:
    """A default as it would be written in a YAML scenario file."""
    if isinstance(value, BaseModel):
        return ""
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{_number(value)}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if isinstance(value, (list, tuple)):
        items = [_number(v) if isinstance(v, float) else json.dumps(v) for v in value]
        if len(items) > 6:
            return f"`[{', '.join(items[:3])}, …, {items[-1]}]` ({len(items)} values)"
        return f"`[{', '.join(items)}]`"
    if isinstance(value, dict):
        return f"`{json.dumps(value)}`" if value else "`{}`"
    return f"`{value}`"


_CODE = re.compile(r"(`[^`]*`)")


def _prose(text: str) -> str:
    """A docstring as one line of Markdown for a table cell: RST roles and literals
    become code spans, Markdown's special characters elsewhere are escaped."""
    text = " ".join(text.split())
    text = re.sub(r":[a-z]+:`([^`]+)`", r"`\1`", text)  # :mod:`x` -> `x`
    text = text.replace("``", "`")
    pieces = _CODE.split(text)
    for i in range(0, len(pieces), 2):  # outside code spans
        piece = pieces[i]
        for char in "\\*_[]<>|":
            piece = piece.replace(char, "\\" + char if char not in "<>" else
                                  {"<": "&lt;", ">": "&gt;"}[char])
        pieces[i] = piece
    return "".join(pieces)


Row = tuple[str, str, str, str, str]


def _rows(cls: type[BaseModel], prefix: str, default: Any, schema: dict[str, Any],
          defs: dict[str, Any], only: str = "", names: list[str] | None = None) -> list[Row]:
    """Rows for the fields ``names`` (default: all) of ``cls``, whose JSON schema is
    ``schema``, recursing into nested models; ``default`` is the instance that holds the
    effective defaults (None: the fields' own)."""
    rows: list[Row] = []
    for name in names if names is not None else list(cls.model_fields):
        field = cls.model_fields[name]
        key = f"{prefix}{name}"
        prop = schema["properties"][name]
        description = prop.get("description") or field.description or ""
        if default is not None and name in type(default).model_fields:
            value = getattr(default, name)
        elif field.is_required():
            value = None
        else:
            value = field.get_default(call_default_factory=True)
        variants = _model_variants(field.annotation)
        if variants:
            rows += _section_rows(key, variants, value, prop, defs, description, only)
            continue
        rows.append((f"`{key}`", _type(prop, defs),
                     "required" if field.is_required() and value is None else _value(value),
                     _constraints(prop, defs),
                     _prose(" ".join(p for p in (only, description) if p))))
    return rows


def _section_rows(key: str, variants: list[type[BaseModel]], value: Any, prop: dict[str, Any],
                  defs: dict[str, Any], description: str, only: str = "") -> list[Row]:
    """A nested model (one row naming it, then its fields), or a union of models told
    apart by a discriminator key (its choices merged; each other key says which choice
    it belongs to)."""
    if len(variants) == 1:
        cls = variants[0]
        doc = " ".join(p for p in (only, description, _own_doc(cls)) if p)
        head: Row = (f"`{key}`", "section", "", "", _prose(doc))
        return [head, *_rows(cls, f"{key}.", value, _resolve(prop, defs), defs, only)]

    discriminator = prop.get("discriminator", {}).get("propertyName")
    schemas = [defs[cls.__name__] for cls in variants]
    choices: dict[type, list[str]] = {}
    for cls, schema in zip(variants, schemas):
        p = schema["properties"][discriminator]
        choices[cls] = list(p.get("enum", [p.get("const")] if "const" in p else []))
    doc = " ".join(
        " or ".join(f"`{discriminator}: {c}`" for c in choices[cls])
        + f": {_own_doc(cls).strip()}"
        for cls in variants)
    head = (f"`{key}`", "section, one of " + ", ".join(c.__name__ for c in variants), "", "",
            _prose(" ".join(p for p in (only, description, doc) if p)))
    rows: list[Row] = [head]
    # the discriminator: every choice, the default's
    all_choices = [c for cls in variants for c in choices[cls]]
    descriptions = [defs[cls.__name__]["properties"][discriminator].get("description", "")
                    for cls in variants]
    rows.append((f"`{key}.{discriminator}`", "str",
                 _value(getattr(value, discriminator)) if value is not None else "",
                 "one of " + ", ".join(f"`{c}`" for c in dict.fromkeys(all_choices)),
                 _prose(" ".join(d for d in dict.fromkeys(descriptions) if d))))
    seen: set[str] = {discriminator}
    for cls, schema in zip(variants, schemas):
        for name in cls.model_fields:
            if name in seen:
                continue
            seen.add(name)
            owners = [c for c in variants if name in c.model_fields]
            where = ""
            if len(owners) < len(variants):
                where = "Only with " + " or ".join(
                    f"`{discriminator}: {c}`" for o in owners for c in choices[o]) + "."
            owner = owners[0]
            holder = value if isinstance(value, owner) else None
            rows += _rows(owner, f"{key}.", holder, defs[owner.__name__], defs, where, [name])
    return rows


def _table(rows: list[Row]) -> str:
    lines = ["| key | type | default | bounds, choices | description |",
             "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def scenario_reference() -> str:
    """Markdown: a table of top-level keys, then one table per section of the schema."""
    from netsim.scenario import Scenario, SchedulerEntry
    from netsim.simulation.registry import available_schedulers

    schema = Scenario.model_json_schema()
    defs = schema.get("$defs", {})
    top: list[Row] = []
    sections: list[str] = []
    for name, field in Scenario.model_fields.items():
        prop = schema["properties"][name]
        variants = _model_variants(field.annotation)
        if name == "schedulers":
            entry = defs["SchedulerEntry"]
            names = ", ".join(f"`{n}`" for n in available_schedulers())
            rows: list[Row] = [
                ("`schedulers`", _type(prop, defs), "required", _constraints(prop, defs),
                 _prose(prop.get("description", ""))),
                ("`schedulers[].type`", "str", "required", f"one of {names}",
                 ("The scheduler's registry name (entry-point group `netsim.schedulers`). "
                  "A list item may be the name alone: `- hungarian`.")),
                ("`schedulers[].label`", _type(entry["properties"]["label"], defs), "`null`", "",
                 ("The name the scheduler carries in results (default: its type and "
                  "parameters); two entries may not share one.")),
                ("`schedulers[].NAME`", "any", "", "",
                 ("Any other key is a parameter of the scheduler, checked by the scheduler "
                  "itself when the file is read (see [Schedulers](schedulers.md)).")),
            ]
            sections.append(f"### `schedulers`\n\n{_prose(_own_doc(SchedulerEntry))}\n\n"
                            f"{_table(rows)}")
            continue
        if not variants:
            top += _rows(Scenario, "", None, schema, defs, names=[name])
            continue
        default = field.get_default(call_default_factory=True)
        rows = _section_rows(name, variants, default, prop, defs,
                             prop.get("description") or "")
        intro = f"{rows[0][4]}\n\n" if rows[0][4] else ""
        sections.append(f"### `{name}`\n\n{intro}{_table(rows[1:])}")
    return "\n\n".join([f"### Top-level keys\n\n{_table(top)}", *sections]) + "\n"


# ------------------------------------------------------------------------ CLI help
def cli_reference() -> str:
    """Markdown: ``netsim --help``, then ``netsim COMMAND --help`` for every command, in
    click's plain layout (what ``TYPER_USE_RICH=0 netsim COMMAND --help`` prints: the
    same text as the framed layout of a terminal, without the frames)."""
    import contextlib
    from unittest import mock

    import typer
    import typer.core
    from typer.testing import CliRunner

    from netsim.cli import app

    group = typer.main.get_command(app)
    runner = CliRunner()
    env = {"COLUMNS": str(HELP_WIDTH), "TERMINAL_WIDTH": str(HELP_WIDTH), "NO_COLOR": "1"}
    plain = (mock.patch.object(typer.core, "HAS_RICH", False)
             if hasattr(typer.core, "HAS_RICH") else contextlib.nullcontext())
    parts = []
    with plain:
        for name in [None, *group.commands]:  # type: ignore[attr-defined]
            args = ["--help"] if name is None else [name, "--help"]
            result = runner.invoke(app, args, prog_name="netsim", env=env)
            if result.exit_code != 0:
                raise RuntimeError(f"netsim {' '.join(args)} exited {result.exit_code}: "
                                   f"{result.output}")
            text = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
            title = "`netsim`" if name is None else f"`netsim {name}`"
            parts.append(f"### {title}\n\n```text\n$ netsim {' '.join(args)}\n{text}\n```")
    return "\n\n".join(parts) + "\n"
