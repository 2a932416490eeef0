"""test_include_graph.py - the gateway's layers (issue 11): no circle in the graph of its
modules drawn from their `#include "..."` lines, types owned by a module opaque outside it
(defined in its .c or its private header), and no C file over the size cap.

A module is a .c file with its .h. A module split over several files for the size cap
shares a private header `<name>_internal.h`: every file that includes one (directly, or
through another private header) belongs to module <name>, and so does its own .h. An edge
A -> B means a file of A includes the public header of B. Lower layers report up through
events tables that main.c registers, so they never include the headers above them.

Run by hand to see the graph: `python3 tests/static/test_include_graph.py` prints every
module's edges, then the circles (none)."""
import collections
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GATEWAY = REPO / "ws-gateway"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)"', re.M)
MAX_LINES = 500


def _includes(path):
    return INCLUDE.findall(path.read_text())


def modules(folder=GATEWAY):
    """{file name: module name} for every .c/.h of folder."""
    files = {p.name: p for p in folder.iterdir() if p.suffix in (".c", ".h")}
    private = {}

    def family(header):  # the module a private header belongs to
        if header in private:
            return private[header]
        private[header] = header[:-len("_internal.h")]
        for inc in _includes(files[header]):
            if inc.endswith("_internal.h") and inc in files:
                private[header] = family(inc)
        return private[header]

    owner = {}
    for name in sorted(files):
        if name.endswith("_internal.h"):
            owner[name] = family(name)
    for name in sorted(files):
        if name.endswith(".c"):
            mods = [family(i) for i in _includes(files[name])
                    if i.endswith("_internal.h") and i in files]
            owner[name] = mods[0] if mods else name[:-2]
            if len(set(mods)) > 1:
                raise AssertionError(f"{name} includes the private headers of {set(mods)}")
    for name in sorted(files):
        if name not in owner:  # a public header: its .c's module, else its own
            owner[name] = owner.get(name[:-2] + ".c", name[:-2])
    return files, owner


def graph(folder=GATEWAY):
    files, owner = modules(folder)
    edges = collections.defaultdict(set)
    for name, path in files.items():
        for inc in _includes(path):
            if inc in owner and owner[inc] != owner[name]:
                edges[owner[name]].add(owner[inc])
    return set(owner.values()), edges


def circles(nodes, edges):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_circle(tmp_path):
    (tmp_path / "a.h").write_text('#include "b.h"\n')
    (tmp_path / "a.c").write_text('#include "a.h"\n')
    (tmp_path / "b.h").write_text("\n")
    (tmp_path / "b.c").write_text('#include "b.h"\n#include "a.h"\n')
    (tmp_path / "c_internal.h").write_text('#include "c.h"\n')
    (tmp_path / "c.h").write_text("\n")
    (tmp_path / "c.c").write_text('#include "c_internal.h"\n')
    (tmp_path / "c_more.c").write_text('#include "c_internal.h"\n#include "a.h"\n')
    nodes, edges = graph(tmp_path)
    assert circles(nodes, edges) == [["a", "b"]]
    assert edges["c"] == {"a"}  # c_more.c is module c: c.c + c_more.c + c.h + c_internal.h


def test_the_gateway_has_no_include_circle():
    nodes, edges = graph()
    assert len(nodes) > 30
    found = circles(nodes, edges)
    detail = ["  " + " <-> ".join(c) + ": " + "; ".join(
        f"{a} -> {sorted(edges[a] & set(c))}" for a in c) for c in found]
    assert not found, "include circles in ws-gateway/:\n" + "\n".join(detail)


# Public by design: the job header every caller embeds in its own job struct (as libuv's
# uv_work_t is), so the workers can queue it without an allocation of their own.
EMBEDDED_TYPES = {"gw_job"}
TYPEDEF = re.compile(r"^typedef struct (\w+) \w+;", re.M)


def defined_in_public_headers(folder=GATEWAY):
    """{type: [public header]} for each type a header of folder declares as
    `typedef struct X X_t;` and a public (not *_internal.h) header defines."""
    headers = sorted(folder.glob("*.h"))
    declared = {t for h in headers for t in TYPEDEF.findall(h.read_text())}
    found = collections.defaultdict(list)
    for h in headers:
        if h.name.endswith("_internal.h"):
            continue
        for t in declared - EMBEDDED_TYPES:
            if re.search(r"^struct " + t + r"\s*\{", h.read_text(), re.M):
                found[t].append(h.name)
    return dict(found)


def test_the_checker_sees_a_public_struct(tmp_path):
    (tmp_path / "a.h").write_text("typedef struct gw_a gw_a_t;\nstruct gw_a {\n    int x;\n};\n")
    (tmp_path / "b.h").write_text("typedef struct gw_b gw_b_t;\n")
    (tmp_path / "b_internal.h").write_text("struct gw_b {\n    int y;\n};\n")
    assert defined_in_public_headers(tmp_path) == {"gw_a": ["a.h"]}


def test_owned_types_are_opaque_outside_their_module():
    """gw_session_t, gw_sub_t, gw_room_t and the rest are defined in a .c file or in their
    module's private header: other modules use functions (issue 11)."""
    assert defined_in_public_headers() == {}


def test_no_c_file_over_the_size_cap():
    too_long = []
    for folder in ("ws-gateway", "rest-fcgi", "common/src", "common/include/chat"):
        for path in sorted((REPO / folder).glob("*.[ch]")):
            n = len(path.read_text().splitlines())
            if n > MAX_LINES:
                too_long.append(f"{path.relative_to(REPO)}: {n}")
    assert not too_long, too_long


if __name__ == "__main__":
    nodes, edges = graph()
    for v in sorted(nodes):
        print(f"{v} -> {', '.join(sorted(edges.get(v, ()))) or '-'}")
    for c in circles(nodes, edges):
        print("CIRCLE:", " <-> ".join(c))
