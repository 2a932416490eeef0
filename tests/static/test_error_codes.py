"""test_error_codes.py - one error vocabulary (issue 10, point 13), checked offline:
every error code the C sources put on the wire (REST error bodies, the gateway's HTTP
refusals and its error frames) is in common/src/error.c's wire table, every table entry
is used, and docs/openapi.yaml's Error.code enum is exactly that table. Pure Python;
reads the sources as text."""
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("rest-fcgi", "ws-gateway", "common/src") for p in (REPO / d).glob("*.c")]
# function -> index of its `code` argument
CODE_ARG = {"rest_response_error": 2, "gw_session_send_error": 1, "gw_upgrade_auth_respond_error": 2,
            "upgrade__refuse": 3, "chat_json_error": 0,
            "parse__fail": 1}  # ws-gateway/frame_parse.c
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
OLD = {"unavailable", "unauthorized", "internal"}


def _strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def _args(text, start):
    """The top-level arguments of the call whose '(' is at start."""
    depth, args, cur, i, in_str = 0, [], "", start, False
    while i < len(text):
        ch = text[i]
        if in_str:
            cur += ch
            if ch == "\\":
                cur += text[i + 1]
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str, cur = True, cur + ch
        elif ch == "(":
            depth += 1
            if depth > 1:
                cur += ch
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(cur.strip())
                return args
            cur += ch
        elif ch == "," and depth == 1:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    return args


def codes_in_sources():
    """code -> files where it is put on the wire as a literal."""
    used = {}
    for path in SOURCES:
        text = _strip_comments(path.read_text())
        for fn, idx in CODE_ARG.items():
            for m in re.finditer(r"\b%s\s*\(" % fn, text):
                line_start = text.rfind("\n", 0, m.start()) + 1
                if re.match(r"\s*(static\s+)?(int|void|json_t)\b", text[line_start:m.start()]):
                    continue  # the definition or prototype itself
                args = _args(text, m.end() - 1)
                if len(args) > idx:
                    for lit in STRING.findall(args[idx]):
                        used.setdefault(lit, set()).add(path.name)
        # codes chosen into a variable first (members.c, auth.c)
        for lit in re.findall(r'\bcode\s*=\s*"([a-z_]+)"', text):
            used.setdefault(lit, set()).add(path.name)
        for lit in re.findall(r'snprintf\(code,\s*sizeof\(code\),\s*"%s",\s*"([a-z_]+)"\)', text):
            used.setdefault(lit, set()).add(path.name)
    return used


def table():
    text = (REPO / "common/src/error.c").read_text()
    wire = text[text.index("error__wire[]"):]
    wire = wire[:wire.index("};")]
    codes = re.findall(r'\{"([a-z_]+)",\s*(\d{3})\}', wire)
    err_table = text[text.index("error__table[]"):]
    err_table = err_table[:err_table.index("};")]
    by_err = re.findall(r'\{"[^"]*",\s*"([a-z_]+)",\s*(\d{3})\}', err_table)
    return dict((c, int(s)) for c, s in codes), {c for c, s in by_err if c != "ok"}


def openapi_enum():
    spec = yaml.safe_load((REPO / "docs/openapi.yaml").read_text())
    return spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]


def test_every_code_in_the_sources_is_in_the_table():
    wire, _ = table()
    used = codes_in_sources()
    assert len(used) > 20, used  # the scan found the calls
    unknown = {c: sorted(f) for c, f in used.items() if c not in wire}
    assert not unknown, f"codes missing from common/src/error.c's wire table: {unknown}"


def test_the_old_gateway_spellings_are_gone():
    used = codes_in_sources()
    assert not (OLD & set(used)), {c: used[c] for c in OLD & set(used)}


def test_every_table_code_is_used():
    wire, by_err = table()
    used = set(codes_in_sources()) | by_err  # chat_err_code() puts those on the wire
    assert set(wire) - used == set(), "wire codes no source sends"
    assert by_err <= set(wire), by_err - set(wire)


def test_openapi_enum_is_the_table():
    wire, _ = table()
    schema = openapi_enum()
    assert set(schema["enum"]) == set(wire), (
        f"only in openapi: {set(schema['enum']) - set(wire)}; "
        f"only in error.c: {set(wire) - set(schema['enum'])}")
