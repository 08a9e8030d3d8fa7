# rewards/code_harness.py: the test harness that runs INSIDE the sandbox next to untrusted code (embedded
# into the grpo binary at build time; the program needs no Python packages, only the interpreter).
#
# It reads a nonce from stdin (before any untrusted code runs), loads the spec from the file named by
# argv[1], silences the real stdout, and reports one record per test case as "<nonce> <json>" on a private
# duplicate of stdout. The host counts only records that carry the nonce; it, not this script, computes
# the score. Defences against reward hacking:
#   - assert-style tests (HumanEval/MBPP `check(candidate)`): every assert in check() is one case; `a == b`
#     and `a != b` inside asserts are rewritten to a strict comparison: builtin values compare with ==,
#     anything else must have the same type and repr and compare equal (an object whose __eq__ always
#     returns True fails); an assert whose value is not a builtin truth value fails;
#   - function-call cases: only the serialized return value (builtin types only) leaves the sandbox; the
#     expected values never enter it, and the host compares;
#   - SystemExit / os._exit before or during tests: cases without a passing record count as failed;
#   - monkeypatching: every builtin the harness uses is captured before untrusted code runs, and the
#     harness hooks in the test namespace are checked after every case (a swap is reported as tampering,
#     which scores 0).
# Known limit: code in the same interpreter can in principle find the nonce by inspecting memory; the
# function-call and stdin/stdout forms do not depend on it.
import ast
import builtins
import json
import os
import sys


def _harness():
    nonce = sys.stdin.readline().strip()
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    _write, _dumps, _type, _repr, _len, _range = os.write, json.dumps, builtins.type, builtins.repr, builtins.len, builtins.range
    _all, _bool, _sorted = builtins.all, builtins.bool, builtins.sorted
    _list, _tuple, _dict, _set, _fset = builtins.list, builtins.tuple, builtins.dict, builtins.set, builtins.frozenset
    _int, _float, _str = builtins.int, builtins.float, builtins.str
    _base_exc = builtins.BaseException
    scalars = (builtins.int, builtins.float, builtins.complex, builtins.bool, builtins.str, builtins.bytes, _type(None))
    containers = (_list, _tuple, _set, _fset)

    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)

    def emit(obj):
        try:
            _write(out, (nonce + " " + _dumps(obj) + "\n").encode())
        except _base_exc:
            pass

    def plain(v, depth=0):
        t = _type(v)
        if t in scalars:
            return True
        if depth > 64:
            return False
        if t in containers:
            return _all([plain(x, depth + 1) for x in _list(v)])
        if t is _dict:
            return _all([plain(k, depth + 1) and plain(x, depth + 1) for k, x in _list(v.items())])
        return False

    def strict_eq(a, b):
        if plain(a) and plain(b):
            return a == b
        if _type(a) is not _type(b) or _repr(a) != _repr(b):
            return False
        r = a == b
        return _type(r) is _bool and r

    def truth(v):
        t = _type(v)
        if t is _bool:
            return v
        if t in scalars or t in containers or t is _dict:
            return _bool(v)
        return False

    ns = {"__name__": "solution", "__builtins__": builtins}
    mode = spec["mode"]

    if mode == "check":
        # each assert in check() (outside nested functions) is one case
        tree = ast.parse(spec["test"], "test.py")
        count = [0]

        class Eq(ast.NodeTransformer):
            def visit_Compare(self, node):
                self.generic_visit(node)
                if _len(node.ops) == 1 and _type(node.ops[0]) in (ast.Eq, ast.NotEq):
                    call = ast.Call(ast.Name("__grpo_eq", ast.Load()), [node.left, node.comparators[0]], [])
                    return call if _type(node.ops[0]) is ast.Eq else ast.UnaryOp(ast.Not(), call)
                return node

        def rewrite(stmts):
            res = []
            for s in stmts:
                if _type(s) is ast.Assert:
                    test = Eq().visit(s.test)
                    lam = ast.Lambda(ast.arguments([], [], None, [], [], None, []), test)
                    call = ast.Call(ast.Name("__grpo_case", ast.Load()), [ast.Constant(count[0]), lam], [])
                    count[0] += 1
                    res.append(ast.copy_location(ast.Expr(call), s))
                    continue
                for field in ("body", "orelse", "finalbody"):
                    if _type(s) not in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef) and hasattr(s, field):
                        setattr(s, field, rewrite(getattr(s, field)))
                if _type(s) is ast.Try:
                    for h in s.handlers:
                        h.body = rewrite(h.body)
                res.append(s)
            return res

        for node in tree.body:
            if _type(node) is ast.FunctionDef and node.name == "check":
                node.body = rewrite(node.body)
        ast.fix_missing_locations(tree)
        test_code = compile(tree, "test.py", "exec")
        total = count[0]
    elif mode == "calls":
        calls = spec["calls"]
        total = _len(calls)
    else:
        emit({"error": "unknown mode"})
        return

    emit({"start": True, "total": total})  # before any untrusted code runs

    try:
        code = compile(spec["program"], "solution.py", "exec")
    except _base_exc:
        emit({"error": "syntax"})
        return
    try:
        exec(code, ns)
    except _base_exc as e:  # SystemExit(0) at load time is a failure too
        emit({"error": "load: " + _type(e).__name__})
        return
    candidate = ns.get(spec["entry_point"])
    if candidate is None:
        emit({"error": "no entry point"})
        return

    if mode == "calls":
        def ser(v):
            t = _type(v)
            if t is _float and (v != v or v in (float("inf"), float("-inf"))):
                return {"__float__": _repr(v)}
            if t is _tuple or t is _list:
                return [ser(x) for x in _list(v)]
            if t is _set or t is _fset:
                return _sorted([ser(x) for x in _list(v)], key=_repr)
            if t is _dict:
                return {_str(k): ser(x) for k, x in _list(v.items())}
            if t is builtins.complex or t is builtins.bytes:
                return {"__" + t.__name__ + "__": _repr(v)}
            return v
        for i in _range(total):
            try:
                v = candidate(*calls[i])
                emit({"case": i, "value": ser(v)} if plain(v) else {"case": i, "opaque": True})
            except _base_exc as e:
                emit({"case": i, "raised": _type(e).__name__ if _type(_type(e).__name__) is _str else "?"})
        emit({"done": True})
        return

    def case(i, f):
        try:
            ok = truth(f())
        except _base_exc:
            ok = False
        if ns.get("__grpo_case") is not case or ns.get("__grpo_eq") is not strict_eq:
            emit({"tampered": True})
            ok = False
        emit({"case": i, "ok": ok is True})

    ns["__grpo_case"] = case
    ns["__grpo_eq"] = strict_eq
    try:
        exec(test_code, ns)
        check = ns["check"]
        ns["__grpo_case"] = case
        ns["__grpo_eq"] = strict_eq
        check(candidate)
    except _base_exc:
        pass
    emit({"done": True})


_harness()
