#!/usr/bin/python3
"""Writes what is mechanical in BCAST/1 from its schema, proto/schema/bcast1.json.

    proto/schema/generate.py            rewrite the generated files in the tree
    proto/schema/generate.py --check    generate into a temporary directory and
                                        fail (exit 1) naming every committed
                                        file that differs from it

The generated files (GENERATED below) carry a "do not edit" header and are
committed. Before writing anything the schema is checked: the shapes the
C++ codec knows, one type per scalar key name, and the test vectors
(proto/vectors/messages.json) in the schema's canonical order, with its
required keys, types and topics. docs/changing-the-protocol.md says which
files are generated and which are edited by hand. Standard library only.
"""
import argparse
import filecmp
import json
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCHEMA = os.path.join(HERE, "bcast1.json")
SOURCE = "proto/schema/bcast1.json"
VECTORS = os.path.join(ROOT, "proto", "vectors", "messages.json")

# The value types the C++ codec reads and writes, and the presences each
# allows (the containers of nested bodies are always required).
TYPES = {
    "uint": ("required", "optional", "default"),
    "str": ("required", "optional", "default"),
    "str_array": ("omit_empty",),
    "seq_map": ("required",),
    "user_array": ("required",),
    "msg_array": ("required",),
}
CPP_TYPES = {
    "uint": "std::uint64_t",
    "str": "std::string",
    "str_array": "std::vector<std::string>",
    "seq_map": "std::vector<room_seq>",
    "user_array": "std::vector<user>",
    "msg_array": "std::vector<msg>",
}
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
    if "msg" not in [e["t"] for e in s["events"]]:
        raise SchemaError("msg_array needs the event msg")
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
                raise SchemaError(f"{where}.{k['key']}: a {k['type']} here, a {other} elsewhere")


def is_type(value, type_):
    if type_ == "uint":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if type_ == "str":
        return isinstance(value, str)
    if type_ == "str_array":
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    if type_ == "seq_map":
        return isinstance(value, dict) and all(is_type(v, "uint") for v in value.values())
    return isinstance(value, list) and all(isinstance(x, dict) for x in value)


def check_body(s, body, kind, where):
    """Checks one vector body against its type's keys (order, presence, type)."""
    table = {m["t"]: m for m in s[kind + "s"]}
    m = table.get(body.get("t"))
    if m is None:
        raise SchemaError(f"{where}: no {kind} type '{body.get('t')}' in the schema")
    order = ["t"] + [k["key"] for k in m["keys"]]
    keys = list(body)
    if keys != [k for k in order if k in body]:
        raise SchemaError(f"{where}: keys {keys} are not in the canonical order {order}")
    for k in m["keys"]:
        if k["key"] not in body:
            if k["presence"] == "required":
                raise SchemaError(f"{where}: required key '{k['key']}' is missing")
            continue
        value = body[k["key"]]
        if not is_type(value, k["type"]):
            raise SchemaError(f"{where}: '{k['key']}' is not a {k['type']}")
        if k["type"] == "msg_array":
            for entry in value:
                check_body(s, entry, "event", f"{where}.{k['key']}")
        if k["type"] == "user_array":
            user = next(st for st in s["structs"] if st["name"] == "user")
            for entry in value:
                if list(entry) != [u["key"] for u in user["keys"]]:
                    raise SchemaError(f"{where}.{k['key']}: entries are not {{name, since}}")


def check_vectors(s):
    with open(VECTORS, encoding="utf-8") as f:
        vectors = json.load(f)
    topics = {e["t"]: e.get("topic") for e in s["events"]}
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
# PROTOCOL.md's spelling of each schema type.
SPEC_TYPES = {"uint": "uint", "str": "str", "str_array": "array of str", "seq_map": "map str -> uint",
              "user_array": "array", "msg_array": "array"}


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


GENERATED = {}


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
