#!/usr/bin/env python3
"""Writes menus-7.22.1.txt, pccsim's compact form of RouterOS 7's command tree, from the
router's own /console/inspect dumps (tikoci/restraml's inspect.json and inspect-extra.json).

    python3 generate.py inspect.json inspect-extra.json > menus-7.22.1.txt

inspect.json is a router with only the main `routeros` package; inspect-extra.json has the
extra packages too (wireless, caps-man, container, iot, user-manager, ...). What only the
second has is marked `*`, so pccsim can read a configuration as either router would.
"""
import json
import sys


def walk(node, path, out):
    """Collects {menu path: {command: set(args)}} from one dump."""
    menu = out.setdefault(path, {})
    for name, child in node.items():
        if not isinstance(child, dict):
            continue
        kind = child.get("_type")
        if kind == "cmd":
            menu[name] = {a for a, v in child.items() if isinstance(v, dict) and v.get("_type") == "arg"}
        elif kind in ("dir", "path", None):
            walk(child, path + (name,), out)


def main(core_file, extra_file):
    core, extra = {}, {}
    walk(json.load(open(core_file)), (), core)
    walk(json.load(open(extra_file)), (), extra)
    print("# RouterOS 7.22.1's command tree, as the router's /console/inspect reports it")
    print("# (tikoci/restraml's inspect.json and inspect-extra.json, public domain: see LICENSE beside")
    print("# this file), written by generate.py. A menu line is its path; each command follows on its")
    print("# own line: a tab, its name, a tab, its arguments. `*` marks what only a router with extra")
    print("# packages (wireless, caps-man, container, ...) has.")
    menus = []
    uses = {}
    for path in sorted(set(core) | set(extra)):
        cmds_core = core.get(path, {})
        cmds_all = extra.get(path, {})
        cmds = []
        for cmd in sorted(set(cmds_core) | set(cmds_all)):
            args = " ".join(sorted(cmds_core.get(cmd, set()) | cmds_all.get(cmd, set())))
            uses[args] = uses.get(args, 0) + 1
            cmds.append((cmd + ("" if cmd in cmds_core else "*"), args))
        menus.append((path, path in core, cmds))
    # Argument lists that several commands share (every `print` has the same) are written once,
    # as `=N` lines first, and named by number.
    shared = sorted(a for a, n in uses.items() if n > 1 and len(a) > 4)
    number = {a: i for i, a in enumerate(shared)}
    print("# Argument lists several commands share come first, numbered (`=N`); a command names one")
    print("# as `=N` or lists its own.")
    for a in shared:
        print(f"={number[a]}\t{a}")
    for path, in_core, cmds in menus:
        print("/" + "/".join(path) + ("" if in_core else "\t*"))
        for cmd, args in cmds:
            print(f"\t{cmd}\t" + (f"={number[args]}" if args in number else args))


if __name__ == "__main__":
    main(*sys.argv[1:3])
