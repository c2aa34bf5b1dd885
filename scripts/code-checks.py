#!/usr/bin/env python3
"""The code's structural checks, as figures: the CLI's size, long functions, panics in library
code, observation indices outside `sim`, the README's length.

    python3 scripts/code-checks.py [--max-fn 120]

Reads the files git tracks (and untracked ones it does not ignore). Functions are found by brace
matching on rustfmt'd code; code after a line `#[cfg(test)]` and under `tests/`, `examples/` or
`benches/` is left out. A panic listed here is a place to look: `expect` on a value the crate
itself built (a tensor's own dtype, a static pattern) is an internal invariant, not caller input.
"""
import argparse
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def files(pattern):
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", pattern],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    return [f for f in out if os.path.exists(os.path.join(ROOT, f))]


def library_lines(path):
    """The lines of `path` before its first `#[cfg(test)]`."""
    lines = open(os.path.join(ROOT, path)).read().split("\n")
    for i, line in enumerate(lines):
        if line.strip() == "#[cfg(test)]":
            return lines[:i]
    return lines


def is_test_file(f):
    parts = f.split("/")
    return any(p in ("tests", "examples", "benches") for p in parts[:-1]) or parts[-1] == "tests.rs"


FN = re.compile(r"\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)")
PANIC = re.compile(r"(?<!debug_)assert(_eq|_ne)?!\(|\.expect\(|panic!\(|unreachable!\(")


def long_functions(limit):
    found = []
    for f in files("*.rs"):
        if is_test_file(f):
            continue
        lines = library_lines(f)
        i = 0
        while i < len(lines):
            m = FN.match(lines[i])
            if not m:
                i += 1
                continue
            j, depth, started = i, 0, False
            while j < len(lines):
                for ch in lines[j]:
                    if ch == "{":
                        depth, started = depth + 1, True
                    elif ch == "}":
                        depth -= 1
                if started and depth == 0:
                    break
                if not started and lines[j].rstrip().endswith(";"):
                    break
                j += 1
            if started and j - i + 1 > limit:
                found.append((j - i + 1, f, i + 1, m.group(6)))
            i += 1
    return sorted(found, reverse=True)


def panics():
    found = []
    for f in files("crates/*.rs"):
        if is_test_file(f):
            continue
        for i, line in enumerate(library_lines(f)):
            code = line.split("//")[0]
            if PANIC.search(code):
                found.append(f"{f}:{i + 1}: {line.strip()[:100]}")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-fn", type=int, default=120)
    a = ap.parse_args()
    src = sum(len(open(os.path.join(ROOT, f)).read().split("\n")) - 1 for f in files("src/*.rs"))
    print(f"src/ lines: {src}")
    fns = long_functions(a.max_fn)
    print(f"functions over {a.max_fn} lines outside tests: {len(fns)}")
    for n, f, line, name in fns:
        print(f"  {n:5} {f}:{line} {name}")
    ps = panics()
    print(f"assert!/expect/panic!/unreachable! in library code: {len(ps)}")
    for p in ps:
        print(f"  {p}")
    obs = [
        f"{f}:{i + 1}"
        for f in files("*.rs")
        if not f.startswith("crates/sim/")
        for i, line in enumerate(open(os.path.join(ROOT, f)).read().split("\n"))
        if re.search(r"obs\[(4|36)", line.split("//")[0])
    ]
    print(f"obs[4.. or obs[36.. indexing outside crates/sim (comments aside): {len(obs)}")
    for o in obs:
        print(f"  {o}")
    readme = len(open(os.path.join(ROOT, "README.md")).read().split("\n")) - 1
    print(f"README.md lines: {readme}")


if __name__ == "__main__":
    main()
