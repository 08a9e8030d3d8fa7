#!/usr/bin/env python3
"""tests/scripts/make_math_completions.py [OUT.jsonl] [--n N] [--seed S]: writes realistic worked solutions
whose truth is known by construction, as JSONL lines {"gold", "pred", "equal", "kind", "form", "src"}.

Each row takes a gold answer of some kind (integers with separators and units, fractions, decimals with a
decimal comma, radicals, multiples of pi, polynomials, intervals, inequalities, root sets, tuples,
column vectors, matrices, ratios, percentages, words, choice letters, relations), writes it either as an
equivalent rewrite (equal: true) or as a near-miss wrong answer (equal: false, mathematically different by
construction), and wraps it in a worked solution ending in one of the answer forms models produce: a final
\\boxed{}, several boxes forming one answer set, "The answer is $X$.", "Answer: X", Minerva's "Final Answer:
The final answer is $X$. I hope it is correct.", "**Final Answer**" with a display box, a closing sentence
("The largest $n$ is 34."), <answer> tags, GSM8K's "####", and chains ("x = 5+6 = 11"). The working text
holds distractor numbers and intermediate math that must not be taken as the answer. Deterministic for a
seed; default 1200 rows to tests/fixtures/math/completions.jsonl."""
import argparse
import json
import random
from fractions import Fraction
from math import gcd

# ---------------------------------------------------------------- answer kinds
# Each maker returns (gold, [equivalent rewrites], [wrong answers]); every string is LaTeX without $.


def k_integer(r):
    n = r.choice([r.randint(2, 99), r.randint(100, 999), r.randint(1000, 99999), r.randint(10**5, 10**7)])
    s = str(n)
    eq = [s, f"{n:,}" if n >= 1000 else s]
    if n >= 1000:
        eq += [f"{n:,}".replace(",", "{,}"), f"{n:,}".replace(",", ",\\!"), f"{n:,}".replace(",", "\\,")]
    unit = r.choice(["\\text{ cm}", "\\text{ apples}", " \\text{meters}", "\\mbox{ dollars}", "m^2", "\\textnormal{ miles}",
                     " km", "^\\circ"])
    eq += [s + unit, "\\$" + s if r.random() < 0.5 else s + ".0"]
    wrong = [str(n + 1), str(n - 1), str(n * 10), str(-n)]
    if len(s) > 1 and s[0] != s[1]:
        wrong.append(s[1] + s[0] + s[2:])
    return s, eq, wrong


def k_negative(r):
    n = -r.randint(2, 500)
    return str(n), [str(n), f"{n}.0", f"-{abs(n)}", f"({n})"], [str(-n), str(n + 1), str(n - 10)]


def k_fraction(r):
    while True:
        p, q = r.randint(1, 30), r.randint(2, 40)
        if gcd(p, q) == 1 and p != q:
            break
    g = f"\\frac{{{p}}}{{{q}}}"
    eq = [g, f"\\dfrac{{{p}}}{{{q}}}", f"{p}/{q}", f"\\frac{{{2 * p}}}{{{2 * q}}}", f"\\tfrac{{{p}}}{{{q}}}"]
    if p < 10 and q < 10:
        eq.append(f"\\frac{p}{q}")
    f = Fraction(p, q)
    if 10**6 % q == 0:
        eq.append(str(float(f)))
    wrong = [f"\\frac{{{q}}}{{{p}}}", f"\\frac{{{p + 1}}}{{{q}}}", f"\\frac{{{p}}}{{{q + 1}}}", f"-\\frac{{{p}}}{{{q}}}"]
    if 10**6 % q != 0:
        wrong.append(f"{float(f):.2f}")  # a badly rounded decimal
    return g, eq, wrong


def k_decimal(r):
    whole, cents = r.randint(0, 9999), r.randint(1, 99)
    if cents % 10 == 0:
        cents += 1
    g = f"{whole}.{cents:02d}"
    eq = [g, f"{whole},{cents:02d}", f"{whole}.{cents:02d}0"]
    if whole >= 1000:
        eq.append(f"{whole:,}.{cents:02d}")
    wrong = [f"{whole}.{cents + 1:02d}" if cents < 98 else f"{whole + 1}.{cents:02d}", f"{whole + 1},{cents:02d}",
             f"{whole}.{cents // 10}"]
    return g, eq, wrong


def k_radical(r):
    a, b = r.randint(2, 9), r.choice([2, 3, 5, 6, 7, 10, 11])
    g = f"{a}\\sqrt{{{b}}}"
    eq = [g, f"\\sqrt{{{a * a * b}}}", f"{a} \\cdot \\sqrt{{{b}}}", f"\\sqrt{{{b}}} \\cdot {a}"]
    if b < 10:  # "\sqrt10" is \sqrt{1}0 in TeX: only one-digit radicands go without braces
        eq.append(f"{a}\\sqrt{b}")
    wrong = [f"\\sqrt{{{a * b}}}", f"{a + 1}\\sqrt{{{b}}}", f"{a}\\sqrt{{{b + 1}}}", f"{a * b}"]
    return g, eq, wrong


def k_pi(r):
    k = r.randint(2, 12)
    g = f"{k}\\pi"
    eq = [g, f"{k} \\pi", f"\\pi \\cdot {k}", f"\\frac{{{2 * k}\\pi}}{{2}}"]
    wrong = [f"{k + 1}\\pi", f"{k}", f"\\frac{{{k}\\pi}}{{2}}"]
    return g, eq, wrong


def k_poly(r):
    a, b = r.randint(1, 6), r.randint(1, 6)
    x = r.choice("xtn")
    g = f"{x}^2+{a + b}{x}+{a * b}"
    eq = [g, f"({x}+{a})({x}+{b})", f"{a * b}+{a + b}{x}+{x}^2", f"\\left({x}+{b}\\right)\\left({x}+{a}\\right)"]
    wrong = [f"({x}-{a})({x}-{b})", f"{x}^2+{a * b}", f"({x}+{a})({x}+{b + 1})", f"{x}^2+{a + b}{x}-{a * b}"]
    return g, eq, wrong


def k_interval(r):
    a = r.randint(-9, 3)
    b = a + r.randint(1, 9)
    g = f"[{a},{b})"
    eq = [g, f"{a} \\le x < {b}", f"x \\in [{a}, {b})", f"\\left[{a}, {b}\\right)", f"{a} \\leq x \\lt {b}"]
    wrong = [f"({a},{b})", f"[{a},{b}]", f"[{a},{b + 1})", f"{a} < x \\le {b}"]
    return g, eq, wrong


def k_inequality(r):
    a = r.randint(-20, 20)
    g = f"x \\ge {a}"
    eq = [g, f"x \\geq {a}", f"x >= {a}", f"[{a}, \\infty)", f"{a} \\le x", f"-x \\le {-a}"]
    wrong = [f"x > {a}", f"x \\le {a}", f"x \\ge {a + 1}", f"({a}, \\infty)"]
    return g, eq, wrong


def k_roots(r):
    r1, r2 = r.sample(range(-12, 13), 2)
    g = f"{r1}, {r2}"
    eq = [g, f"{r2}, {r1}", f"\\{{{r2}, {r1}\\}}", f"x = {r1} \\text{{ or }} x = {r2}", f"x_1 = {r1}, x_2 = {r2}",
          f"{r1} \\text{{ and }} {r2}", f"{r2}; {r1}", "SET"]
    wrong = [f"{r1}, {r2 + 1}", f"{r1}", f"{r1}, {-r2}" if r2 else f"{r1}, 1", "SETWRONG"]
    return g, eq, wrong


def k_tuple(r):
    a, b = r.sample(range(-9, 15), 2)
    g = f"({a}, {b})"
    eq = [g, f"(x, y) = ({a}, {b})", f"\\left( {a}, {b} \\right)", f"({a},{b})",
          f"\\begin{{pmatrix}} {a} \\\\ {b} \\end{{pmatrix}}", f"(p,q)=({a},{b})"]
    wrong = [f"({b}, {a})", f"({a}, {b + 1})", f"\\begin{{pmatrix}} {b} \\\\ {a} \\end{{pmatrix}}"]
    return g, eq, wrong


def k_matrix(r):
    m = [r.randint(-5, 9) for _ in range(4)]
    while m[1] == m[2]:
        m[2] += 1

    def env(name, v):
        return f"\\begin{{{name}}} {v[0]} & {v[1]} \\\\ {v[2]} & {v[3]} \\end{{{name}}}"

    g = env("pmatrix", m)
    eq = [g, env("bmatrix", m), f"\\left[\\begin{{array}}{{cc}} {m[0]} & {m[1]} \\\\ {m[2]} & {m[3]} \\end{{array}}\\right]"]
    wrong = [env("pmatrix", [m[0], m[2], m[1], m[3]]), env("bmatrix", [m[0] + 1, m[1], m[2], m[3]])]
    return g, eq, wrong


def k_ratio(r):
    while True:
        a, b = r.randint(1, 30), r.randint(1, 30)
        if gcd(a, b) == 1 and a != b:
            break
    g = f"{a}:{b}"
    eq = [g, f"{a} : {b}", f"V_1:V_2 = {a}:{b}", f"{2 * a}:{2 * b}"]
    wrong = [f"{b}:{a}", f"{a + 1}:{b}", f"{a}:{b + 1}"]
    return g, eq, wrong


def k_percent(r):
    p = r.randint(1, 99)
    g = f"{p}\\%"
    eq = [g, f"{p}\\%", f"{p} \\%", f"{p}\\text{{ percent}}", f"{p}"]
    wrong = [f"{p + 1}\\%", f"{p / 10:g}\\%", f"{100 - p}\\%" if p != 50 else "49\\%"]
    return g, eq, wrong


def k_word(r):
    w, other = r.choice([("odd", "even"), ("even", "odd"), ("Tuesday", "Monday"), ("Evelyn", "Emily"), ("east", "west")])
    g = f"\\text{{{w}}}"
    eq = [g, w, f"\\textbf{{{w}}}", w.capitalize() if w.islower() else w.lower(), f"\\mathrm{{{w}}}"]
    return g, eq, [other, f"\\text{{{other}}}"]


def k_letter(r):
    c = r.choice("ABCDE")
    o = r.choice([x for x in "ABCDE" if x != c])
    return c, [c, f"({c})", f"\\text{{({c})}}", f"\\textbf{{({c})}}"], [o, f"({o})"]


def k_relation(r):
    a = r.randint(-9, 9)
    g = f"x \\neq {a}"
    return g, [g, f"x \\ne {a}", f"x != {a}"], [f"x \\neq {a + 1}", f"x = {a}"]


def k_chain(r):
    a, b = r.randint(2, 50), r.randint(2, 50)
    g = str(a + b)
    return g, [f"x = {a}+{b} = {a + b}", f"{a} + {b} = {a + b}", f"x \\approx {a + b}"], \
        [f"x = {a}+{b} = {a + b + 1}", f"{a} + {b} = {a + b - 1}"]


KINDS = [k_integer, k_negative, k_fraction, k_decimal, k_radical, k_pi, k_poly, k_interval, k_inequality,
         k_roots, k_tuple, k_matrix, k_ratio, k_percent, k_word, k_letter, k_relation, k_chain]

# ---------------------------------------------------------------- worked solutions

OPENERS = [
    "Let's work through this step by step.",
    "We start by writing down what we know.",
    "First, let me set up the problem.",
    "<think>\nOkay, so I need to figure this out carefully.\n</think>\n",
    "To solve this, we break it into parts.",
]


def working(r):
    """A few sentences of intermediate math with distractor numbers."""
    a, b, c = r.randint(2, 40), r.randint(2, 40), r.randint(2, 9)
    steps = [
        f"First we compute ${a} \\cdot {c} = {a * c}$.",
        f"Adding the two parts gives ${a} + {b} = {a + b}$, which we will need below.",
        f"Note that \\[ \\frac{{{a * c}}}{{{c}}} = {a}, \\] so the scaling is consistent.",
        f"There are {b} cases to check, and {c} of them are symmetric.",
        f"Substituting $t = {c}$ into the equation, we get $2t + {a} = {2 * c + a}$.",
        f"The discriminant is ${b}^2 - 4 \\cdot {c} = {b * b - 4 * c}$.",
        f"So the intermediate value is $y = {a - b}$, and we continue.",
    ]
    return " ".join(r.sample(steps, r.randint(2, 4)))


def setform(r, items):
    """Several boxes forming one answer set."""
    sep = r.choice([" and ", ", ", " \\quad \\text{and} \\quad ", " or "])
    return "The solutions are $" + sep.join(f"\\boxed{{{x}}}" for x in items) + "$."


FORMS = {
    "boxed": lambda r, x: f"Therefore, the answer is $\\boxed{{{x}}}$.",
    "boxed_display": lambda r, x: f"Putting it together:\n\\[\n\\boxed{{{x}}}\n\\]",
    "boxed_paren": lambda r, x: f"So we conclude \\( \\boxed{{{x}}} \\).",
    "boxed_intermediate": lambda r, x: f"A first guess would be \\boxed{{0}}, but that ignores the constraint. "
    f"Checking the constraint again carefully, we find that the correct value is different.\n\n"
    f"**Final Answer**\n\\[\n\\boxed{{{x}}}\n\\]",
    "answer_is": lambda r, x: f"Hence the answer is ${x}$.",
    "answer_colon": lambda r, x: f"\nAnswer: ${x}$",
    "answer_display": lambda r, x: f"\n**Answer:**\n\\[\n{x}\n\\]",
    "final_answer_is": lambda r, x: f"So the final answer is \\({x}\\).",
    "minerva": lambda r, x: f"\nFinal Answer: The final answer is ${x}$. I hope it is correct.",
    "closing": lambda r, x: r.choice(["The largest such value is", "So the total is", "Thus the required value is",
                                      "Therefore the result is"]) + f" ${x}$.",
    "tag": lambda r, x: f"\n</think>\n<answer>{x}</answer>",
    "answer_is_plain": lambda r, x: f"So the answer is: {x}",
    "bold_answer": lambda r, x: f"\n\n**Answer: ${x}$**",
    "named_box": lambda r, x: f"Solving, we obtain $\\boxed{{v = {x}}}$.",
    "closing_plain": lambda r, x: f"The number we are looking for is {x}.",
    "named_sum": lambda r, x: f"Therefore, $m+n = {x}$.",
    "final_colon_box": lambda r, x: f"\n\nThe final answer is: $\\boxed{{{x}}}$",
    "box_then_check": lambda r, x: f"So we get $\\boxed{{{x}}}$.\n\nLet me verify: substituting back, "
    f"both sides agree (for example $3 + 4 = 7$), so the result stands.",
    "box_is_answer": lambda r, x: f"Hence, $\\boxed{{{x}}}$ is the answer.",
    "display_dollars": lambda r, x: f"\n$$\n\\boxed{{{x}}}\n$$",
    "tag_box": lambda r, x: f"\n</think>\n<answer>The answer is $\\boxed{{{x}}}$</answer>",
    "box_then_final": lambda r, x: f"Half of it is $\\boxed{{7}}$ per part, which we double.\n"
    f"Final Answer: The final answer is ${x}$. I hope it is correct.",
    "plain_units": lambda r, x: f"The answer is {x} dollars.",
    "trailer": lambda r, x: f"The value is ${x}$.\n\nThis is the final answer.",
    "aside": lambda r, x: f"So the answer is {x} (as checked above, with $2+2 = 4$).",
    "gsm8k": lambda r, x: f"\n#### {x}",
}
NAMED_OK = {k_integer, k_negative, k_fraction, k_decimal, k_radical, k_pi, k_poly, k_tuple}
PLAIN = {"gsm8k", "answer_is_plain", "closing_plain", "aside", "plain_units"}  # forms written without $: plain answers only


def completion(r, answer, form, gold):
    body = r.choice(OPENERS) + " " + working(r)
    if r.random() < 0.3:  # the gold value in the working, which must not be taken for the answer
        body += f" A first estimate was ${gold}$, which we now check."
    return body + " " + FORMS[form](r, answer)


def rows(n, seed):
    r = random.Random(seed)
    out = []
    forms = list(FORMS)
    i = 0
    while len(out) < n:
        kind = KINDS[i % len(KINDS)]
        i += 1
        gold, eq, wrong = kind(r)
        equal = r.random() < 0.55
        ans = r.choice(eq if equal else wrong)
        form = forms[r.randrange(len(forms))]
        if ans in ("SET", "SETWRONG"):  # the roots as several boxes
            items = [x.strip() for x in gold.split(",")]
            if ans == "SETWRONG":
                items = [items[0], str(int(items[1]) + 1)]
            text = r.choice(OPENERS) + " " + working(r) + " " + setform(r, items)
            form = "box_set"
        else:
            if form in PLAIN and ("\\" in ans or "{" in ans or "^" in ans):
                form = "boxed"
            if form == "plain_units" and kind not in (k_integer, k_decimal):  # "-5 dollars", "x >= 3 dollars": no
                form = "boxed"
            if form == "named_sum" and kind not in (k_integer, k_negative, k_fraction, k_pi, k_radical):
                form = "boxed"
            if form == "named_box" and kind not in NAMED_OK:  # "v = x \ge 3" is no answer anyone writes
                form = "boxed"
            text = completion(r, ans, form, gold)
        out.append({"gold": gold, "pred": text, "equal": equal, "kind": kind.__name__[2:], "form": form,
                    "src": f"gen:{seed}:{len(out)}"})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default="tests/fixtures/math/completions.jsonl")
    ap.add_argument("--n", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=15)
    a = ap.parse_args()
    data = rows(a.n, a.seed)
    with open(a.out, "w", encoding="utf-8") as f:
        for row in data:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(data)} completions written to {a.out} ({sum(d['equal'] for d in data)} equal)")


if __name__ == "__main__":
    main()
