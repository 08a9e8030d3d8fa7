#!/usr/bin/env python3
"""tests/scripts/extract_math_verify_cases.py SDIST_OR_DIR OUT.jsonl: reads the labelled (gold, prediction,
expected) cases out of the tests/ folder of a math-verify source distribution (the .tar.gz from
`pip download --no-deps --no-binary :all: math-verify==0.9.0`, or its unpacked folder) and writes the ones run
under default-compatible settings as JSONL lines {"gold","pred","equal","src","match"}.

Nothing of math-verify is imported or run: the test files are parsed with `ast` and only literal
parametrize tables are read. A case is kept when its test calls `compare_strings(gold, pred, ...)` or
`verify(parse(gold), parse(pred))` with the default precision (6), strict=True and no set/relation option.
`match` records the extraction targets the test used ("latex", "expr" or both). Cases whose strings are not
literals (f-strings) are skipped. math-verify is MIT-licensed (c) The HuggingFace Team; `src` names the file,
test and line each case came from."""
import ast
import io
import json
import os
import sys
import tarfile

DEFAULTS = {"precision": 6, "strict": True, "allow_set_relation_comp": False, "match_types": ["latex", "expr"]}


def test_files(src):
    """Yields (name, text) for every tests/*.py in the sdist or folder."""
    if os.path.isdir(src):
        d = os.path.join(src, "tests")
        for n in sorted(os.listdir(d)):
            if n.endswith(".py"):
                yield n, open(os.path.join(d, n), encoding="utf-8").read()
        return
    with tarfile.open(src) as t:
        for m in sorted(t.getmembers(), key=lambda m: m.name):
            parts = m.name.split("/")
            if len(parts) == 3 and parts[1] == "tests" and parts[2].endswith(".py") and m.isfile():
                yield parts[2], io.TextIOWrapper(t.extractfile(m), encoding="utf-8").read()


def call_settings(fn):
    """The settings of the comparison a test function runs, or None when it runs none we can read."""
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "compare_strings":
            s = dict(DEFAULTS)
            for kw in node.keywords:
                s[kw.arg] = kw.value.id if isinstance(kw.value, ast.Name) else ast.literal_eval(kw.value)
            return s
        if node.func.id == "verify" and all(isinstance(a, ast.Call) and getattr(a.func, "id", "") == "parse"
                                            and len(a.args) == 1 for a in node.args):
            return dict(DEFAULTS)
    return None


def rows(fn):
    """(argnames, [(lineno, tuple)]) of the function's parametrize decorator, or None."""
    for d in fn.decorator_list:
        if isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "parametrize":
            names = [n.strip() for n in ast.literal_eval(d.args[0]).split(",")]
            out = []
            for el in d.args[1].elts:
                try:
                    out.append((el.lineno, ast.literal_eval(el)))
                except ValueError:
                    pass  # not a literal (an f-string): skipped
            return names, out
    return None


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: extract_math_verify_cases.py SDIST_OR_DIR OUT.jsonl")
    kept = skipped = 0
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        for fname, text in test_files(sys.argv[1]):
            for fn in ast.parse(text).body:
                if not isinstance(fn, ast.FunctionDef):
                    continue
                table, settings = rows(fn), call_settings(fn)
                if not table or not settings:
                    continue
                names, cases = table
                if "gold" not in names or "pred" not in names:
                    continue
                for lineno, vals in cases:
                    c = dict(zip(names, vals))
                    s = {k: c.get(v, v) if isinstance(v, str) and v in names else v for k, v in settings.items()}
                    label = c.get("expected", c.get("result"))
                    if (s["precision"] != 6 or s["strict"] is not True or s["allow_set_relation_comp"]
                            or label not in (0, 1, True, False)):
                        skipped += 1
                        continue
                    out.write(json.dumps({"gold": c["gold"], "pred": c["pred"], "equal": bool(label),
                                          "src": f"{fname}:{fn.name}:{lineno}",
                                          "match": "+".join(s["match_types"])}, ensure_ascii=False) + "\n")
                    kept += 1
    print(f"{kept} cases written, {skipped} skipped (non-default settings)", file=sys.stderr)


if __name__ == "__main__":
    main()
