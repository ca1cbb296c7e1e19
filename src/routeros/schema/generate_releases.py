#!/usr/bin/env python3
"""Writes names-7.x.txt: the menus, commands and arguments that some RouterOS 7 release has
and 7.22.1 (the tree in menus-7.22.1.txt) lacks, with the first and last release that has each,
from tikoci/restraml's names of sixteen releases (public domain: see LICENSE beside this file).

    python3 generate_releases.py names-7.9-7.24.tsv menus-7.22.1.txt > names-7.x.txt

A real export from a 7.x router other than 7.22.1 may use these names; pccsim reads them as that
router's, not simulated, instead of refusing the file.
"""
import sys


def tree(menus_file):
    """Every path of 7.22.1's tree: menus, `menu command`, `menu command argument`."""
    shared, paths, menu = {}, set(), None
    for line in open(menus_file, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        if line.startswith("="):
            number, args = line[1:].split("\t", 1)
            shared[number] = args.split()
        elif line.startswith("/"):
            menu = line.split("\t")[0].strip("/").replace("/", " ")
            paths.add(menu)
        else:
            _, cmd, args = line.split("\t")
            cmd = cmd.rstrip("*")
            args = shared[args[1:]] if args.startswith("=") else args.split()
            paths.add(f"{menu} {cmd}".strip())
            paths.update(f"{menu} {cmd} {a}".strip() for a in args)
    return paths


def main(names_file, menus_file):
    known = tree(menus_file)
    print("# Names of RouterOS 7 releases that 7.22.1 lacks: kind, path, first..last release that")
    print("# has it (tikoci/restraml, public domain), written by generate_releases.py.")
    for line in open(names_file, encoding="utf-8"):
        if line.startswith("#"):
            continue
        kind, path, versions = line.rstrip("\n").split("\t")
        if path not in known:
            print(f"{kind}\t{path}\t{versions.replace(' (gaps)', '')}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
