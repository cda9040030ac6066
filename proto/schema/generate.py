#!/usr/bin/python3
"""Writes what is mechanical in BCAST/1 from its schema, proto/schema/bcast1.json.

    proto/schema/generate.py            rewrite the generated files in the tree
    proto/schema/generate.py --check    generate into a temporary directory and
                                        fail (exit 1) naming every committed
                                        file that differs from it

The generated files (GENERATED below) carry a "do not edit" header and are
committed. Before writing anything the schema is checked: the shapes the
C++ codec knows, one type per scalar key name, agreement with PROTOCOL.md's
tables, and the test vectors (proto/vectors/messages.json): one at least of
each type, each in the schema's canonical order, with its required keys,
types and topic. docs/changing-the-protocol.md says which files are
generated and which are edited by hand. Standard library only.
"""
import argparse
import filecmp
import json
import os
import re
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCHEMA = os.path.join(HERE, "bcast1.json")
SOURCE = "proto/schema/bcast1.json"
VECTORS = os.path.join(ROOT, "proto", "vectors", "messages.json")

# The value types the C++ codec reads and writes, and the presences each
# allows. An array of nested maps is any type of the schema with an
# `element` (a struct or the event `msg`): always required; the codec reads
# and writes it from the element's own table (add_nested_types).
TYPES = {
    "uint": ("required", "optional", "default"),
    "str": ("required", "optional", "default"),
    "str_array": ("required", "omit_empty"),
    "seq_map": ("required",),
}
CPP_TYPES = {
    "uint": "std::uint64_t",
    "str": "std::string",
    "str_array": "std::vector<std::string>",
    "seq_map": "std::vector<room_seq>",
}
# PROTOCOL.md's spelling of each type (a nested array is an "array").
SPEC_TYPES = {"uint": "uint", "str": "str", "str_array": "array of str", "seq_map": "map str -> uint"}
# type -> the struct (or event) each of its entries is.
NESTED = {}
# The types of NESTED whose struct is positional: each entry an array of its
# values in key order.
POSITIONAL = set()


def add_nested_types(s):
    """Registers the schema's arrays of nested maps with the tables above."""
    known = {st["name"] for st in s["structs"]} | {e["t"] for e in s["events"]}
    for name, t in s["types"].items():
        if "element" not in t:
            continue
        if t["element"] not in known:
            raise SchemaError(f"type {name}: element '{t['element']}' is neither a struct nor an event")
        NESTED[name] = t["element"]
        if any(st["name"] == t["element"] and st.get("positional") for st in s["structs"]):
            POSITIONAL.add(name)
        TYPES[name] = ("required",)
        CPP_TYPES[name] = f"std::vector<{t['element']}>"
        SPEC_TYPES[name] = "array"
# detail::presence (proto/src/field.hpp) of each schema presence.
CPP_PRESENCE = {"required": "required", "optional": "optional", "default": "defaulted",
                "omit_empty": "omit_empty"}


class SchemaError(Exception):
    pass


def load():
    with open(SCHEMA, encoding="utf-8") as f:
        return json.load(f)


# ------------------------------------------------------------------ checks --

def check_schema(s):
    """Raises SchemaError on what the generators could not express."""
    scalar_types = {}
    for kind in ("requests", "events"):
        seen = set()
        for m in s[kind]:
            if m["t"] in seen:
                raise SchemaError(f"{kind}: '{m['t']}' twice")
            seen.add(m["t"])
            check_keys(f"{kind} {m['t']}", m["keys"], scalar_types)
            members = m.get("cpp_members")
            if members is not None and sorted(members) != sorted(k["key"] for k in m["keys"]):
                raise SchemaError(f"{kind} {m['t']}: cpp_members must name each key once")
        if kind == "events":
            for m in s[kind]:
                if m["sent"] not in ("reply", "private", "publish"):
                    raise SchemaError(f"event {m['t']}: sent must be reply, private or publish")
                if (m["sent"] == "publish") != ("topic" in m):
                    raise SchemaError(f"event {m['t']}: a topic iff published")
                if "epoch" not in [k["key"] for k in m["keys"]] and m["sent"] == "publish":
                    raise SchemaError(f"event {m['t']}: every published body carries epoch (6.3)")
    for st in s["structs"]:
        check_keys(f"struct {st['name']}", st["keys"], scalar_types)
    codes = [e["code"] for e in s["error_codes"]]
    if len(set(codes)) != len(codes):
        raise SchemaError("an error code appears twice")


def check_keys(where, keys, scalar_types):
    names = [k["key"] for k in keys]
    if len(set(names)) != len(names) or "t" in names:
        raise SchemaError(f"{where}: keys must be unique and not 't'")
    for k in keys:
        if k["type"] not in TYPES:
            raise SchemaError(f"{where}.{k['key']}: unknown type '{k['type']}' (known: {', '.join(TYPES)})")
        if k["presence"] not in TYPES[k["type"]]:
            raise SchemaError(f"{where}.{k['key']}: a {k['type']} cannot be {k['presence']}")
        if (k["presence"] == "default") != ("default" in k):
            raise SchemaError(f"{where}.{k['key']}: a default value iff presence is default")
        if k["presence"] == "default" and "cpp_init" not in k:
            raise SchemaError(f"{where}.{k['key']}: a default needs cpp_init (its limits.hpp constant)")
        if ("max_entries" in k) != ("cpp_max" in k):
            raise SchemaError(f"{where}.{k['key']}: max_entries and cpp_max go together")
        if k["type"] in ("uint", "str"):
            other = scalar_types.setdefault(k["key"], k["type"])
            if other != k["type"]:
                raise SchemaError(f"{where}.{k['key']}: a {k['type']} here, a {other} elsewhere "
                                  "(the Ruby and Node tables type keys by name)")


def is_type(value, type_):
    if type_ == "uint":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if type_ == "str":
        return isinstance(value, str)
    if type_ == "str_array":
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    if type_ == "seq_map":
        return isinstance(value, dict) and all(is_type(v, "uint") for v in value.values())
    return isinstance(value, list) and all(isinstance(x, (list if positional(type_) else dict)) for x in value)


def positional(type_):
    """Whether an array type's entries are arrays of values (a positional
    struct, 6.3 `pack`) rather than maps."""
    return type_ in POSITIONAL


def check_body(s, body, kind, where):
    """Checks one vector body against its type's keys (order, presence, type)."""
    table = {m["t"]: m for m in s[kind + "s"]}
    m = table.get(body.get("t"))
    if m is None:
        raise SchemaError(f"{where}: no {kind} type '{body.get('t')}' in the schema")
    check_keys_of(s, body, ["t"], m["keys"], where)


def check_keys_of(s, body, leading, keys, where):
    """Checks a map's keys against `keys` (after `leading` ones): canonical
    order, required keys present, value types, nested entries in turn."""
    order = leading + [k["key"] for k in keys]
    if list(body) != [k for k in order if k in body]:
        raise SchemaError(f"{where}: keys {list(body)} are not in the canonical order {order}")
    for k in keys:
        if k["key"] not in body:
            if k["presence"] == "required":
                raise SchemaError(f"{where}: required key '{k['key']}' is missing")
            continue
        value = body[k["key"]]
        if not is_type(value, k["type"]):
            raise SchemaError(f"{where}: '{k['key']}' is not a {k['type']}")
        element = NESTED.get(k["type"])
        struct = next((st for st in s["structs"] if st["name"] == element), None)
        for entry in value if element is not None else []:
            if struct is None:
                check_body(s, entry, "event", f"{where}.{k['key']}")
            elif struct.get("positional"):
                check_positional(entry, struct, f"{where}.{k['key']}")
            else:
                check_keys_of(s, entry, [], struct["keys"], f"{where}.{k['key']}")


def check_positional(entry, struct, where):
    """Checks one entry of a positional struct: its values in key order."""
    if len(entry) != len(struct["keys"]):
        raise SchemaError(f"{where}: an entry of {len(entry)} values, not {len(struct['keys'])}")
    for value, k in zip(entry, struct["keys"]):
        if not is_type(value, k["type"]):
            raise SchemaError(f"{where}: '{k['key']}' is not a {k['type']}")


def check_vectors(s):
    with open(VECTORS, encoding="utf-8") as f:
        vectors = json.load(f)
    topics = {e["t"]: e.get("topic") for e in s["events"]}
    names = [v["name"] for v in vectors]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SchemaError(f"vector names must be unique (clients look vectors up by name): {', '.join(twice)}")
    covered = {(v["kind"], v["message"].get("t")) for v in vectors}
    for kind in ("request", "event"):
        for m in s[kind + "s"]:
            if (kind, m["t"]) not in covered:
                raise SchemaError(f"no vector of the {kind} '{m['t']}': add one to proto/vectors/generate.py")
    for v in vectors:
        where = f"messages.json {v['name']}"
        check_body(s, v["message"], v["kind"], where)
        if v["kind"] == "event":
            want = topics[v["message"]["t"]]
            if want is not None:
                want = want.replace("<room>", v["message"].get("room", ""))
            if v["topic"] != want:
                raise SchemaError(f"{where}: topic {v['topic']!r}, the schema says {want!r}")


SPEC = os.path.join(ROOT, "proto", "PROTOCOL.md")


def spec_section(text, start, end):
    return text[text.index(start):text.index(end, text.index(start))]


def spec_messages(section):
    """{t: [(key, type or None, "req"/"opt", meaning)]} of a PROTOCOL.md section
    that names each type in bold (**`hello`**) and lists its keys in a table
    (key | type | [req/opt |] meaning) or inline (`id` (uint, opt, ...))."""
    out = {}
    for block in re.split(r"\n(?=\*\*`)", section):
        names = re.findall(r"\*\*`(\w+)`\*\*", block.split("\n\n")[0])
        rows = [[c.strip() for c in line.strip().strip("|").split("|")]
                for line in block.splitlines() if line.startswith("| `")]
        if rows:
            keys = [(r[0].strip("`"), r[1], r[2] if len(r) == 4 else "req", r[-1]) for r in rows]
        else:
            keys = [(k, t or None, ro, "") for k, t, ro in
                    re.findall(r"`(\w+)`(?: = `\"\w+\"`)? \((?:([\w ]+?), )?(req|opt)", block)]
        for name in names:
            out[name] = keys
    return out


def spec_publications(section):
    """{t: (topic, [keys])} of the table in PROTOCOL.md 6.3."""
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 3:
            out[cells[1].strip("`")] = (cells[0].strip("`"), re.findall(r"`(\w+)`", cells[2]))
    return out


def compare(where, spec_keys, keys):
    if not spec_keys or spec_keys[0][0] != "t":
        raise SchemaError(f"PROTOCOL.md {where}: `t` is not its first key")
    spec_keys = spec_keys[1:]
    if [k[0] for k in spec_keys] != [k["key"] for k in keys]:
        raise SchemaError(f"PROTOCOL.md {where}: keys {[k[0] for k in spec_keys]}, "
                          f"the schema has {[k['key'] for k in keys]}")
    for (name, type_, req, meaning), k in zip(spec_keys, keys):
        if type_ is not None and type_ != SPEC_TYPES[k["type"]]:
            raise SchemaError(f"PROTOCOL.md {where}.{name}: {type_}, the schema says {k['type']}")
        if (req == "req") != (k["presence"] == "required"):
            raise SchemaError(f"PROTOCOL.md {where}.{name}: {req}, the schema says {k['presence']}")
        if "default" in k and str(k["default"]) not in meaning:
            raise SchemaError(f"PROTOCOL.md {where}.{name}: does not give the default {k['default']}")
        if "max_entries" in k and str(k["max_entries"]) not in meaning:
            raise SchemaError(f"PROTOCOL.md {where}.{name}: does not give the limit {k['max_entries']}")


def check_protocol(s):
    """Checks the schema against PROTOCOL.md's tables: sections 6.1-6.3 (types,
    keys in order, req/opt, defaults, topics) and 11 (the codes, in order)."""
    with open(SPEC, encoding="utf-8") as f:
        text = f.read()
    requests = spec_messages(spec_section(text, "### 6.1 ", "### 6.2 "))
    replies = spec_messages(spec_section(text, "### 6.2 ", "### 6.3 "))
    published = spec_publications(spec_section(text, "### 6.3 ", "## 7. "))
    if list(requests) != [m["t"] for m in s["requests"]]:
        raise SchemaError(f"PROTOCOL.md 6.1 has requests {list(requests)}")
    for m in s["requests"]:
        compare(f"6.1 {m['t']}", requests[m["t"]], m["keys"])
    if sorted(list(replies) + list(published)) != sorted(m["t"] for m in s["events"]):
        raise SchemaError(f"PROTOCOL.md 6.2 and 6.3 have events {list(replies) + list(published)}")
    for m in s["events"]:
        if m["t"] in published:
            topic, keys = published[m["t"]]
            if topic != m.get("topic"):
                raise SchemaError(f"PROTOCOL.md 6.3 {m['t']}: topic {topic}, the schema says {m.get('topic')}")
            compare(f"6.3 {m['t']}", [("t", None, "req", "")] + [(k, None, "req", "") for k in keys],
                    m["keys"])
        else:
            compare(f"6.2 {m['t']}", replies[m["t"]], m["keys"])
    codes = re.findall(r"^\| `([a-z-]+)` \|", spec_section(text, "## 11. ", "## 12. "), re.M)
    if codes != [c["code"] for c in s["error_codes"]]:
        raise SchemaError(f"PROTOCOL.md 11 lists the codes {codes}, the schema {[c['code'] for c in s['error_codes']]}")


# ------------------------------------------------------------- generators --

def header(comment):
    return f"{comment} Generated from {SOURCE} by proto/schema/generate.py: do not edit.\n"


def cpp_ident(code):
    return code.replace("-", "_")


def item_lines(items, indent="    "):
    """One `item,` line each."""
    return "".join(f"{indent}{item},\n" for item in items)


def packed_lines(items, indent="    "):
    """`item, item,` lines, as many as fit in 100 columns."""
    lines = textwrap.wrap(" ".join(f"{item}," for item in items), 100 - len(indent))
    return "".join(f"{indent}{line}\n" for line in lines)


def comment(text):
    """`text` as // lines of at most 100 columns."""
    return "".join(f"// {line}\n" for line in textwrap.wrap(text, 97))


def cpp_member_order(m):
    by_key = {k["key"]: k for k in m["keys"]}
    return [by_key[name] for name in m.get("cpp_members", [k["key"] for k in m["keys"]])]


def cpp_members(keys, t=None):
    """The member lines of a struct, their comments aligned, after its
    static `type` (its `t`) when `t` is given."""
    code = [cpp_member(k) for k in keys]
    width = max((len(c) for c in code), default=0)
    lines = [f"{c.ljust(width)}  // {k['doc']}\n" for c, k in zip(code, keys)]
    if t is not None:
        lines.insert(0, f"  static constexpr std::string_view type = \"{t}\";\n")
    return lines


def cpp_member(k, indent="  "):
    type_ = CPP_TYPES[k["type"]]
    if k["presence"] == "optional":
        type_ = f"std::optional<{type_}>"
    init = ""
    if "cpp_init" in k:
        init = f" = {k['cpp_init']}" if k["type"] == "uint" else f"{{{k['cpp_init']}}}"
    elif k["type"] == "uint" and k["presence"] != "optional":
        init = " = 0"
    return f"{indent}{type_} {k['key']}{init};"


def gen_messages_hpp(s):
    out = ["// The typed messages of BCAST/1: what clients send the broker (`request`) and\n"
           "// what the broker sends back or publishes (`event`). Field names are the wire\n"
           "// keys of PROTOCOL.md; the codec turns these into MessagePack and back.\n",
           header("//"),
           "#pragma once\n\n#include <cstdint>\n#include <optional>\n#include <string>\n"
           "#include <string_view>\n#include <variant>\n#include <vector>\n\n#include \"bcast/proto/limits.hpp\"\n\n"
           "namespace bcast::proto {\n\n"
           "// Client -> broker, over DEALER -> ROUTER.\nnamespace request {\n"]
    for m in s["requests"]:
        text = f"`{m['t']}`: {m['doc']}. Answer: {m['answer']}."
        out.append(f"\n{comment(text)}struct {m['t']} {{\n")
        out += cpp_members(cpp_member_order(m), m["t"])
        out.append("};\n")
    out.append("\n}  // namespace request\n\n")
    out.append(variant("any_request", "request", [m["t"] for m in s["requests"]]))
    out.append("\n// Broker -> client: answers over ROUTER -> DEALER, publications over PUB -> SUB.\n"
               "namespace event {\n\n"
               "// One entry of a `seq_map` (`welcome.rooms`, `hb.rooms`): a room and its last seq.\n"
               "struct room_seq {\n  std::string room;\n  std::uint64_t seq = 0;\n"
               "  bool operator==(const room_seq&) const = default;\n};\n")
    for st in s["structs"]:
        out.append(f"\n{comment(st['doc'])}struct {st['name']} {{\n")
        out += cpp_members(st["keys"])
        out.append(f"  bool operator==(const {st['name']}&) const = default;\n}};\n")
    nested = {"msg"}  # msg_array's element: defined first, compared member by member
    for m in sorted(s["events"], key=lambda e: e["t"] not in nested):
        where = {"reply": "Sent to the requester", "private": "Sent to one recipient",
                 "publish": f"Published on `{m.get('topic')}`"}[m["sent"]]
        text = f"`{m['t']}`: {m['doc']}. {where}."
        out.append(f"\n{comment(text)}struct {m['t']} {{\n")
        out += cpp_members(cpp_member_order(m), m["t"])
        if m["t"] in nested:
            out.append(f"  bool operator==(const {m['t']}&) const = default;\n")
        out.append("};\n")
    out.append("\n}  // namespace event\n\n")
    out.append(variant("any_event", "event", [m["t"] for m in s["events"]]))
    out.append("\n}  // namespace bcast::proto\n")
    return "".join(out)


def variant(name, ns, types):
    lines, line = [], f"using {name} = std::variant<"
    for i, t in enumerate(types):
        item = f"{ns}::{t}" + (">;" if i == len(types) - 1 else ", ")
        if len(line) + len(item.rstrip()) > 100:
            lines.append(line.rstrip())
            line = " " * len(f"using {name} = std::variant<")
        line += item
    lines.append(line)
    return "\n".join(lines) + "\n"


def gen_error_code_hpp(s):
    codes = s["error_codes"]
    width = max(len(cpp_ident(c["code"])) for c in codes) + 1
    out = ["// The error codes of PROTOCOL.md section \"Errors\", and their wire spellings.\n",
           header("//"),
           "#pragma once\n\n#include <cstddef>\n#include <optional>\n#include <string_view>\n\n"
           "namespace bcast::proto {\n\nenum class error_code {\n"]
    for c in codes:
        out.append(f"  {(cpp_ident(c['code']) + ',').ljust(width)}  // {c['doc']}\n")
    last = cpp_ident(codes[-1]["code"])
    out.append("};\n\n"
               "// How many codes there are, from the last enumerator: tables indexed by code\n"
               "// (the broker's error counters, the spellings) are sized by it.\n"
               f"inline constexpr error_code last_error_code = error_code::{last};\n"
               "inline constexpr std::size_t error_code_count = "
               "static_cast<std::size_t>(last_error_code) + 1;\n\n"
               "// Returns the wire spelling, e.g. \"name-taken\".\n"
               "[[nodiscard]] std::string_view to_string(error_code code);\n\n"
               "// Returns the code for a wire spelling, or nullopt for an unknown one.\n"
               "[[nodiscard]] std::optional<error_code> error_code_from_string(std::string_view text);\n\n"
               "}  // namespace bcast::proto\n")
    return "".join(out)


def cpp_fields(ns, name, keys, member_order):
    index = {k["key"]: i for i, k in enumerate(keys)}
    # Decoding reads the keys in member order, arrays of nested bodies last:
    # each entry is a reader of its own, and the reasons of bad bodies name
    # the first broken key in that order.
    nested = [k for k in member_order if k["type"] in NESTED]
    decode = [index[k["key"]] for k in member_order if k not in nested] + [index[k["key"]] for k in nested]
    lines = []
    for k in keys:
        extra = f", {k['cpp_max']}" if "cpp_max" in k else ""
        lines.append(f"      make_field(\"{k['key']}\", &{ns}::{name}::{k['key']}, "
                     f"presence::{CPP_PRESENCE[k['presence']]}{extra}),\n")
    fields = "".join(lines)
    if not keys:
        return ("  static constexpr std::tuple<> fields{};\n"
                "  static constexpr std::array<std::size_t, 0> decode_order{};\n")
    return (f"  static constexpr std::tuple fields{{\n{fields}  }};\n"
            f"  static constexpr std::array<std::size_t, {len(keys)}> decode_order{{"
            f"{', '.join(map(str, decode))}}};\n")


def gen_schema_tables_hpp(s):
    out = ["// The codec's tables: for every message type its `t`, its keys in canonical\n"
           "// order with their members and presence (encode.cpp and decode.cpp walk\n"
           "// these; field.hpp says how), and the error codes' wire spellings.\n",
           header("//"),
           "#pragma once\n\n#include <array>\n#include <cstddef>\n#include <string_view>\n"
           "#include <tuple>\n\n#include \"bcast/proto/error_code.hpp\"\n"
           "#include \"bcast/proto/limits.hpp\"\n#include \"bcast/proto/messages.hpp\"\n"
           "#include \"field.hpp\"\n\nnamespace bcast::proto::detail {\n\n"
           "// The schema's defaults and limits are the constants the code uses.\n"]
    asserts = {}
    for m in s["requests"] + s["events"] + s["structs"]:
        for k in m["keys"]:
            if "default" in k:
                v = k["default"]
                value = f"std::string_view(\"{v}\")" if isinstance(v, str) else str(v)
                asserts[k["cpp_init"]] = value
            if "cpp_max" in k:
                asserts[k["cpp_max"]] = str(k["max_entries"])
    asserts.setdefault("protocol_version", str(s["version"]))
    for const, value in asserts.items():
        out.append(f"static_assert({const} == {value});\n")
    for kind, ns in (("requests", "request"), ("events", "event")):
        for m in s[kind]:
            out.append(f"\ntemplate <>\nstruct schema<{ns}::{m['t']}> {{\n"
                       f"  static constexpr std::string_view type = {ns}::{m['t']}::type;\n")
            out.append(cpp_fields(ns, m["t"], m["keys"], cpp_member_order(m)))
            out.append("};\n")
    for st in s["structs"]:
        what = "An array of its values in key order" if st.get("positional") else "A nested map"
        out.append(f"\n// {what}, without `t`.\ntemplate <>\nstruct schema<event::{st['name']}> {{\n")
        if st.get("positional"):
            out.append("  static constexpr bool positional = true;\n")
        out.append(cpp_fields("event", st["name"], st["keys"], st["keys"]))
        out.append("};\n")
    out.append("\n// Indexed by error_code.\n"
               "inline constexpr std::array<std::string_view, error_code_count> error_code_spellings{\n")
    out.append(item_lines(f"\"{c['code']}\"" for c in s["error_codes"]))
    out.append("};\n\n}  // namespace bcast::proto::detail\n")
    return "".join(out)


def py_repr(value):
    return json.dumps(value, ensure_ascii=False)


def py_entry(name, items, opener, closer, indent="    "):
    """One `name: <items>` line of a dict, or one item a line when too long."""
    one = f"{indent}{name}: {opener}{', '.join(items)}{',' if opener == '(' and len(items) == 1 else ''}{closer},\n"
    if len(one) <= 100:
        return one
    return f"{indent}{name}: {opener}\n{item_lines(items, indent + '    ')}{indent}{closer},\n"


def gen_python(s):
    out = [f'"""BCAST/1 key tables for bcast_client.py and scripts/conformance.\n\n'
           f'Generated from {SOURCE} by proto/schema/generate.py: do not edit.\n"""\n\n'
           "# Keys of every body after \"t\", in canonical order (PROTOCOL.md section 6).\n"
           "KEY_ORDER = {\n"]
    out += [py_entry(py_repr(m["t"]), [py_repr(k["key"]) for k in m["keys"]], "(", ")") for m in s["requests"]]
    out.append("}\nEVENT_KEY_ORDER = {\n")
    out += [py_entry(py_repr(m["t"]), [py_repr(k["key"]) for k in m["keys"]], "(", ")") for m in s["events"]]
    out.append("}\n\n# The REQUIRED keys of each event and their kind (uint, str, seq_map, array):\n"
               "# what scripts/conformance checks of every body it receives.\nEVENT_SHAPES = {\n")
    for m in s["events"]:
        shape = [f"{py_repr(k['key'])}: {py_repr(s['types'][k['type']]['conformance'])}"
                 for k in m["keys"] if k["presence"] == "required"]
        out.append(py_entry(py_repr(m["t"]), shape, "{", "}"))
    out.append("}\n")
    return "".join(out)


def js_key(key):
    return key if key.isidentifier() else json.dumps(key)


def gen_node(s):
    merged = {}
    for m in s["requests"] + s["events"]:
        table = merged.setdefault(m["t"], {})
        for k in m["keys"]:
            if k["key"] == "id":  # checked for every body, before its type
                continue
            type_ = "text" if k.get("nonempty") else k["type"]
            if table.get(k["key"]) == "text":
                continue
            table[k["key"]] = type_
    out = ["// BCAST/1 key tables for bcast.js.\n", header("//"), "\n"
           "// Known keys per type and their types (uint, str, text = a non-empty str,\n"
           "// str_array, seq_map, msg_array, or an array of one of STRUCTS); a request\n"
           "// and an event of the same `t` share one entry (a key has the same type in\n"
           "// both). `id` is checked for every body.\nexport const KEYS = {\n"]
    for t, keys in merged.items():
        items = [f"{js_key(k)}: \"{v}\"" for k, v in keys.items()]
        line = f"  {js_key(t)}: {{ {', '.join(items)} }},\n" if items else f"  {js_key(t)}: {{}},\n"
        if len(line) > 100:
            line = f"  {js_key(t)}: {{\n{item_lines(items)}  }},\n"
        out.append(line)
    for name, kind, doc in (("EVENT_REQUIRED", "events", "a broker's body (PROTOCOL.md 6.2, 6.3)"),
                            ("REQUEST_REQUIRED", "requests", "a client's body (PROTOCOL.md 6.1)")):
        out.append(f"}};\n\n// Keys {doc} must have, by type.\nexport const {name} = {{\n")
        for m in s[kind]:
            req = [f"\"{k['key']}\"" for k in m["keys"] if k["presence"] == "required"]
            line = f"  {js_key(m['t'])}: [{', '.join(req)}],\n"
            if len(line) > 100:
                line = f"  {js_key(m['t'])}: [\n{packed_lines(req)}  ],\n"
            out.append(line)
    out.append("};\n\n// The maps an array type of KEYS holds: each key's type, and the keys\n"
               "// every entry must have; a positional one's entries are arrays of the\n"
               "// values in key order, without keys.\nexport const STRUCTS = {\n")
    for type_, element in NESTED.items():
        struct = next((st for st in s["structs"] if st["name"] == element), None)
        if struct is None:
            continue  # msg_array: entries are msg events, checked as bodies
        types = ", ".join(f"{js_key(k['key'])}: \"{k['type']}\"" for k in struct["keys"])
        req = ", ".join(f"\"{k['key']}\"" for k in struct["keys"] if k["presence"] == "required")
        flag = ", positional: true" if struct.get("positional") else ""
        out.append(f"  {type_}: {{ keys: {{ {types} }}, required: [{req}]{flag} }},\n")
    out.append("};\n")
    return "".join(out)


def rb_words(words, indent=""):
    """A %w[] literal; with `indent`, wrapped to 100 columns when longer."""
    words = list(words)
    one = f"%w[{' '.join(words)}]"
    if not indent or len(indent) + len(one) <= 90:
        return one
    lines = textwrap.wrap(" ".join(words), 96 - len(indent))
    return "%w[\n" + "".join(f"{indent}  {line}\n" for line in lines) + f"{indent}]"


def nested_keys(s):
    """{key: struct} of every key whose value is an array of a struct."""
    out = {}
    structs = {st["name"]: st for st in s["structs"]}
    for m in s["requests"] + s["events"]:
        for k in m["keys"]:
            if NESTED.get(k["type"]) in structs:
                out[k["key"]] = structs[NESTED[k["type"]]]
    return out


def gen_ruby(s):
    def keys(m):
        return rb_words(k["key"] + ("" if k["presence"] == "required" else "?") for k in m["keys"])

    def block(name, items):
        body = ",\n".join(f"    \"{m['t']}\" => {keys(m)}" for m in items)
        return f"  {name} = {{\n{body}\n  }}.freeze\n"

    str_keys, uint_keys = ["t"], []
    for m in s["requests"] + s["events"] + s["structs"]:
        for k in m["keys"]:
            target = {"str": str_keys, "uint": uint_keys}.get(k["type"])
            if target is not None and k["key"] not in target:
                target.append(k["key"])
    nonempty = {}
    for m in s["requests"]:
        for k in m["keys"]:
            if k.get("nonempty"):
                nonempty.setdefault(m["t"], []).append(k["key"])
    out = ["# frozen_string_literal: true\n\n# BCAST/1 key tables for bcast.rb.\n", header("#"),
           "\nmodule Bcast\n"
           "  # Keys of each type in canonical order (section 6); \"?\" marks optional keys.\n",
           block("REQUESTS", s["requests"]), block("EVENTS", s["events"]),
           "  # Keys whose value is an array of maps, and those maps' keys (\"?\": optional).\n",
           "  NESTED = {\n",
           ",\n".join(f"    \"{k}\" => {keys(st)}" for k, st in nested_keys(s).items()),
           "\n  }.freeze\n"
           "  # Keys of NESTED whose entries are arrays of the values in key order.\n",
           f"  POSITIONAL = {rb_words(k for k, st in nested_keys(s).items() if st.get('positional'))}.freeze\n",
           "  # The keys whose value is a str or a uint wherever they appear.\n",
           f"  STR_KEYS = {rb_words(str_keys, '  ')}.freeze\n",
           f"  UINT_KEYS = {rb_words(uint_keys, '  ')}.freeze\n",
           "  # Request keys whose value must not be empty (bad-request).\n",
           "  REQUEST_NONEMPTY = {\n",
           ",\n".join(f"    \"{t}\" => {rb_words(ks)}" for t, ks in nonempty.items()),
           "\n  }.freeze\nend\n"]
    return "".join(out)


GENERATED = {
    "proto/include/bcast/proto/messages.hpp": gen_messages_hpp,
    "proto/include/bcast/proto/error_code.hpp": gen_error_code_hpp,
    "proto/src/schema_tables.hpp": gen_schema_tables_hpp,
    "scripts/clients/python/bcast_schema.py": gen_python,
    "scripts/clients/node/schema.js": gen_node,
    "scripts/clients/ruby/bcast_schema.rb": gen_ruby,
}


def write_all(s, root):
    for path, generate in GENERATED.items():
        target = os.path.join(root, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="\n") as f:
            f.write(generate(s))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="fail if a committed generated file differs from the schema's")
    args = parser.parse_args()
    s = load()
    try:
        add_nested_types(s)
        check_schema(s)
        check_protocol(s)
        check_vectors(s)
    except SchemaError as e:
        print(f"{SOURCE}: {e}", file=sys.stderr)
        return 1
    if not args.check:
        write_all(s, ROOT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        write_all(s, tmp)
        stale = [p for p in GENERATED
                 if not os.path.exists(os.path.join(ROOT, p))
                 or not filecmp.cmp(os.path.join(tmp, p), os.path.join(ROOT, p), shallow=False)]
    for p in stale:
        print(f"{p} is stale: run proto/schema/generate.py and commit the result", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
