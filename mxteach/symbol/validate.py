"""Validation of MXNet symbol JSON before a graph is built from it.

A symbol file is data from outside; ``mx.sym.load`` / ``load_json`` check it completely here,
so that any malformed file answers with one :class:`~mxteach.base.MXNetError` naming the
source, the node and the problem, instead of a ``UnicodeDecodeError``, ``RecursionError``,
``IndexError`` or a graph that silently points at the wrong node:

* bytes must be UTF-8 (the offending byte offset is named);
* nesting depth is bounded *before* ``json.loads`` recurses (MXNet graphs nest 4 levels);
* every node has a string ``op`` and ``name``, its attributes are strings, and its operator
  is registered, with parameters that parse;
* node inputs and heads refer to an *earlier* node (MXNet writes nodes in topological order,
  so a graph read this way is acyclic by construction) and to an output that node has; an
  operator gets exactly as many inputs as its arguments and auxiliary states.

See notebook 01.
"""
from __future__ import annotations

import json

from ..base import MXNetError
from ..ops import registry

__all__ = ["SymbolFileError", "decode", "parse_json", "check_graph", "MAX_DEPTH"]

MAX_DEPTH = 32          # JSON nesting allowed (a symbol graph needs 4)
MAX_ATTR_DEPTH = 16     # brackets inside one attribute string, e.g. shape="((1, 2), (3, 4))"
MAX_ATTR_LEN = 65536    # characters of one attribute value


class SymbolFileError(MXNetError, ValueError):
    """Malformed symbol JSON (MXNet raises MXNetError from its C++ parser)."""


def decode(data, source):
    """``data`` (bytes or str) as text; invalid UTF-8 is named with its byte offset."""
    if isinstance(data, str):
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SymbolFileError(f"{source}: symbol JSON must be str or bytes, got "
                              f"{type(data).__name__}")
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as err:
        raise SymbolFileError(f"{source}: not valid UTF-8 (byte 0x{err.object[err.start]:02X} "
                              f"at offset {err.start}: {err.reason}); a symbol file is UTF-8 "
                              f"JSON") from None


def _nesting_depth(text, limit):
    """The deepest ``[``/``{`` nesting outside strings, stopping early past ``limit``.

    A linear scan with no recursion, so a hostile ``[[[[...`` cannot exhaust the stack.
    """
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(data, source="<json>"):
    """Decode and parse symbol JSON with bounded nesting; every failure is SymbolFileError."""
    text = decode(data, source)
    if _nesting_depth(text, MAX_DEPTH) > MAX_DEPTH:
        raise SymbolFileError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels; a symbol "
                              f"graph needs 4 (corrupt or hostile file?)")
    try:
        graph = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise SymbolFileError(f"{source}: not a symbol JSON graph ({err})") from None
    return graph


def _fail(source, msg):
    raise SymbolFileError(f"{source}: {msg}")


def _entry(source, where, e, num_outputs, limit):
    """Check one ``[node, output(, version)]`` reference against the ``limit`` nodes before it."""
    if not isinstance(e, list) or len(e) not in (2, 3) or \
            not all(isinstance(v, int) and not isinstance(v, bool) for v in e):
        _fail(source, f"{where}: an entry must be [node, output] or [node, output, version] "
                      f"of ints, got {e!r}"[:300])
    node, out = e[0], e[1]
    if not 0 <= node < limit:
        _fail(source, f"{where}: refers to node {node}, but only nodes 0..{limit - 1} come "
                      f"before it (inputs must precede their users; this also rules out "
                      f"cycles)" if limit else f"{where}: refers to node {node}, but there is "
                                                f"no earlier node")
    if not 0 <= out < num_outputs[node]:
        _fail(source, f"{where}: asks for output {out} of node {node}, which has "
                      f"{num_outputs[node]} output(s)")


def _attrs(source, k, entry):
    merged = {}
    for key in ("attrs", "param", "attr"):  # 1.x writes attrs; older files param/attr
        value = entry.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            _fail(source, f"node {k}: '{key}' must be an object, got {type(value).__name__}")
        for name, v in value.items():
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                _fail(source, f"node {k}: attribute '{name}' must be a string, got "
                              f"{type(v).__name__}")
            if isinstance(v, str):
                if len(v) > MAX_ATTR_LEN:
                    _fail(source, f"node {k}: attribute '{name}' is {len(v)} characters long "
                                  f"(limit {MAX_ATTR_LEN})")
                if _nesting_depth(v.replace("(", "[").replace(")", "]"),
                                  MAX_ATTR_DEPTH) > MAX_ATTR_DEPTH:
                    _fail(source, f"node {k}: attribute '{name}' nests brackets deeper than "
                                  f"{MAX_ATTR_DEPTH} levels")
            merged[name] = v
    return merged


def check_graph(graph, source="<json>"):
    """Raise SymbolFileError unless ``graph`` (parsed JSON) is a well-formed symbol graph."""
    if not isinstance(graph, dict):
        _fail(source, f"not a symbol JSON graph (top level is a {type(graph).__name__}, not an "
                      f"object)")
    nodes, heads = graph.get("nodes"), graph.get("heads")
    if not isinstance(nodes, list) or not isinstance(heads, list):
        _fail(source, "not a symbol JSON graph (needs lists 'nodes' and 'heads')")
    if not heads:
        _fail(source, "the graph has no heads (outputs)")
    num_outputs = []
    for k, entry in enumerate(nodes):
        if not isinstance(entry, dict):
            _fail(source, f"node {k} must be an object, got {type(entry).__name__}")
        opname, name = entry.get("op"), entry.get("name")
        if not isinstance(opname, str) or not isinstance(name, str):
            _fail(source, f"node {k} needs string 'op' and 'name', got op={opname!r}, "
                          f"name={name!r}"[:300])
        inputs = entry.get("inputs", [])
        if not isinstance(inputs, list):
            _fail(source, f"node {k} ('{name}'): 'inputs' must be a list")
        attrs = _attrs(source, k, entry)
        for i, e in enumerate(inputs):
            _entry(source, f"node {k} ('{name}') input {i}", e, num_outputs, k)
        if opname == "null":
            if inputs:
                _fail(source, f"node {k} ('{name}') is a variable but has {len(inputs)} inputs")
            num_outputs.append(1)
            continue
        try:
            op = registry.get(opname)
        except MXNetError as err:
            _fail(source, f"node {k} ('{name}'): {err}")
        raw = {key: v for key, v in attrs.items() if key in op.params}
        try:
            params = registry.parse_params(op, raw, name)
            n_in = len(op.list_arguments(params)) + len(op.list_aux(params))
            n_out = len(op.list_outputs(params))
        except MXNetError as err:
            _fail(source, f"node {k}: {err}")
        except (ValueError, TypeError, KeyError, IndexError, SyntaxError, OverflowError,
                MemoryError, RecursionError) as err:  # a parameter string that does not parse
            _fail(source, f"node {k} ('{name}'): parameters {raw!r} do not parse "
                          f"({type(err).__name__}: {err})"[:500])
        if len(inputs) != n_in:
            _fail(source, f"node {k} ('{name}', {opname}) has {len(inputs)} inputs; the "
                          f"operator takes {n_in} (arguments and auxiliary states)")
        num_outputs.append(n_out)
    for i, h in enumerate(heads):
        _entry(source, f"heads[{i}]", h, num_outputs, len(nodes))
    return graph
