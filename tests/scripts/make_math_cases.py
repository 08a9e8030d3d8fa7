#!/usr/bin/env python3
"""tests/scripts/make_math_cases.py: writes tests/rewards/math_cases.jsonl, the labelled
(gold, pred, equal) cases the math checker is measured against.

Sources (cases re-typed and labelled here, not copied as files):
  mv   - behaviours exercised by Math-Verify's test suite (github.com/huggingface/Math-Verify, tests/test_all.py):
         thousands separators, \\frac variants, percent, intervals, sets, matrices, equations, boxed extraction.
  hm   - the kinds of equivalences in the MATH dataset's is_equiv tests (github.com/hendrycks/math,
         modeling/math_equivalence.py: \\dfrac, \\frac12, \\sqrt3, units in \\text, \\$, 0.5 vs .5, a=...).
  own  - written for grpo (rewards/math*.c behaviours, GSM8K "####" answers, R1-style completions).
  gen  - generated below from exact rational arithmetic (fractions.Fraction): decimal/fraction/percent forms
         of the same value and off-by-one neighbours, with labels computed by Python, not by grpo.
Run: python3 tests/scripts/make_math_cases.py  (deterministic; rewrites the file)
"""
import json
import os
import random
from fractions import Fraction

C = []


def add(src, gold, pred, equal):
    C.append({"gold": gold, "pred": pred, "equal": bool(equal), "src": src})


# ---- mv: numbers, separators, currency, units
for g, p, e in [
    ("-5", "-5", 1), ("7425000", "7,425,000", 1), ("1000", "1 000", 1), ("1000", "1000.0", 1),
    ("1000.0", "1,000.0", 1), ("0.4", ".4", 1), ("1000.99", "1,000.99", 1), ("1000.99", "$1,000.99", 1),
    ("1000.99", "1,000.99$", 1), ("1000.99", "\\$1,000.99", 1), ("2", "AZYUK2A", 0),
    ("10/9", "\\frac{10}{9}", 1), ("-10/9", "-\\frac{10}{9}", 1),
    ("$[0,1)$", "$[0,1)$", 1), ("$[0,9)$", "$[0,1)$", 0), ("$(0,9)$", "$[0,9)$", 0), ("$1$", "$-[0,1)$", 0),
    ("$1/3$", "$\\frac13 $", 1), ("$1$", "$\\frac3{3} $", 1), ("$\\sqrt{3}$", "$\\sqrt3 $", 1),
    ("$1/3$", "$\\cfrac{1}{3} $", 1), ("$1/3$", "$\\dfrac{1}{3} $", 1), ("$1/3$", "$\\tfrac{1}{3} $", 1),
    ("$1/3$", "$ 1/3 $", 1), ("$1/3$", "$\\left( \\frac{1}{3} \\right)$", 1), ("$1/3$", "$\\boxed{\\frac{1}{3}}$", 1),
    ("$1/3$", "$\\frac{1}{3} \\text{meters}$", 1), ("$1/3$", "$\\frac{1}{3} \\textbf{meters}$", 1),
    ("$1/3$", "$k = \\frac{1}{3}$", 1),
    ("$28\\%$", "28 percent", 1), ("$28\\%$", "28 %", 1), ("$28\\%$", "$28$ %", 1), ("$28\\%$", "$28$ percent", 1),
    ("$28\\%$", "28", 1), ("$0.28$", "28", 0), ("$28/100$", "28", 0), ("$28$", "28/100", 0),
    ("$\\frac{28}{100}$", "28", 0), ("$28*\\frac{1}{100}$", "28", 0), ("$28\\%$", "$\\boxed{28 percent}$", 1),
    ("$34x+45y-20z+100=0$", "$-34x-45y+20z-100=0$", 1),
    ("$\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{15+2\\sqrt{33}}$", "$\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{2\\sqrt{33}+15}$", 1),
    ("$(a+5)(b+2)$", "$(+5)(b+2)$", 0), ("$2$", "$\\frac{1+\\sqrt{5}}{2}$", 0),
    ("$4$", "$\\frac{34}{16}+\\frac{\\sqrt{1358}}{16}$", 0), ("$1\\sqrt{19}$", "$1$", 0), ("$x+2n+1$", "$x+1$", 0),
    ("$(3, \\frac{\\pi}{2})$", "the polar coordinates are $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$", 1),
    ("$\\frac{14}{3}$", "$f(-2)+f(-1)+f(0)=2+\\frac{5}{3}+1=\\boxed{\\frac{14}{3}}$", 1),
    ("$\\text{Evelyn}$", "Therefore, $\\boxed{\\text{Evelyn}}$ is our answer.", 1),
    ("$2-2p$", "Thus $x-p=\\boxed{2-2p}$.", 1),
    ("\\boxed{\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}}", "\\boxed{\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}}", 1),
    ("\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix} 0 & 3 \\\\ 0 & 1 \\end{pmatrix}", 0),
    ("$14{,}916$", "Therefore, $\\boxed{14{,}916}$ is our answer.", 1),
    ("$16386.20$", "Paula's investment is worth $\\boxed{\\$16,\\!386.20}$ at the end", 1),
    ("12000023", "Final Answer: The final answer is 12,000,023. I hope it is correct.", 1),
    ("$[0,1)$", "Final Answer: The final answer is $(0, 1)$. I hope it is correct.", 0),
    ("$[-3,2]$", "the domain is $\\boxed{(-\\infty, -3] \\cup [2, \\infty)}$", 0),
    ("$\\left(\\frac{1}{5},\\frac{1}{6}\\right)$", "Thus, $(p,q) = \\boxed{\\left( \\frac{1}{5}, \\frac{1}{6} \\right)}.$", 1),
    ("$\\left(\\frac{4}{5},\\frac{1}{5}\\right)$", "$(t,u) = \\boxed{\\left( \\frac{4}{5}, \\frac{1}{5} \\right)}.$", 1),
    ("$(-\\infty, -3] \\cup [2, \\infty)$", "$(-\\infty,-3]\\cup[2,\\infty)$", 1),
    ("$(-\\infty, -3] \\cup [2, \\infty)$", "$(-\\infty,-3)\\cup[2,\\infty)$", 0),
    ("$\\{1,2,3\\}$", "$\\{3,1,2\\}$", 1), ("$\\{1,2,3\\}$", "$\\{1,2\\}$", 0), ("$(1,2,3)$", "$(3,2,1)$", 0),
    ("$(1,2,3)$", "$(1,2,3)$", 1), ("$x=3$", "$3$", 1), ("$3$", "$x = 3$", 1), ("$a=b$", "$b=a$", 1),
    ("$x=3$", "$x=4$", 0), ("$y = 2x+3$", "$y=3+2x$", 1), ("$x \\geq 5$", "$[5, \\infty)$", 1),
    ("$x > 5$", "$[5, \\infty)$", 0), ("$x < 2$", "$(-\\infty, 2)$", 1), ("$-1 < x \\le 4$", "$(-1, 4]$", 1),
    ("$-1 < x \\le 4$", "$[-1, 4]$", 0), ("$\\frac{\\sqrt{3}}{2}$", "$\\frac{1}{2}\\sqrt{3}$", 1),
    ("$\\frac{\\sqrt{3}}{2}$", "$0.8660254$", 1), ("$\\pi$", "$3.14159265358979$", 1), ("$\\pi$", "$3.14$", 0),
    ("$2\\pi$", "$\\pi \\cdot 2$", 1), ("$e^2$", "$\\exp(2)$", 1), ("$\\ln 8$", "$3\\ln 2$", 1),
    ("$\\log_2 8$", "$3$", 1), ("$\\sin^2 x + \\cos^2 x$", "$1$", 1), ("$(x+1)^2$", "$x^2+2x+1$", 1),
    ("$(x+1)^2$", "$x^2+x+1$", 0), ("$\\frac{x^2-1}{x-1}$", "$x+1$", 1), ("$2x$", "$x \\cdot 2$", 1),
    ("$90^\\circ$", "$90$", 1), ("$90^\\circ$", "$90^{\\circ}$", 1), ("$90$", "$\\boxed{90^\\circ}$", 1),
    ("\\text{(B)}", "(B)", 1), ("B", "The answer is (B).", 1), ("B", "(C)", 0), ("C", "\\text{(C)}", 1),
    ("$\\text{Monday}$", "monday", 1), ("$\\text{Monday}$", "Tuesday", 0), ("yes", "Yes", 1), ("no", "yes", 0),
]:
    add("mv", g, p, e)

# ---- hm: MATH-style equivalences
for g, p, e in [
    ("\\frac{1}{2}", "\\frac12", 1), ("\\frac{1}{2}", "\\dfrac{1}{2}", 1), ("\\frac{1}{2}", "1/2", 1),
    ("\\frac{1}{2}", "0.5", 1), ("\\frac{1}{2}", ".5", 1), ("0.5", "\\frac{1}{2}", 1), ("\\frac{1}{2}", "\\frac{2}{4}", 1),
    ("\\frac{1}{2}", "\\frac{1}{3}", 0), ("\\sqrt{3}", "\\sqrt3", 1), ("2\\sqrt{3}", "\\sqrt{12}", 1),
    ("2\\sqrt{3}", "3\\sqrt{2}", 0), ("10", "10\\text{ inches}", 1), ("10", "10 \\mbox{ inches}", 1),
    ("10", "10\\text{ sq units}", 1), ("\\$2.50", "2.50", 1), ("2.5", "\\$2.50", 1), ("5", "5.00", 1),
    ("5", "5.01", 0), ("x=5", "5", 1), ("\\frac{a}{b}", "a/b", 1), ("\\frac{a}{b}", "\\frac{b}{a}", 0),
    ("\\left(2, 3\\right)", "(2,3)", 1), ("(2,3)", "(3,2)", 0), ("\\frac{3}{4}", "0.75", 1), ("75\\%", "75", 1),
    ("\\$18.90", "18.90", 1), ("\\$18.90", "18.9", 1), ("3\\sqrt{2}", "\\sqrt{18}", 1), ("\\sqrt{2}/2", "\\frac{\\sqrt2}2", 1),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", 1), ("\\frac{1}{\\sqrt{2}}", "0.7071", 0), ("4\\pi", "4 \\pi", 1),
    ("\\frac{4\\pi}{3}", "\\frac43\\pi", 1), ("6", "6\\text{ cm}^2", 1), ("6", "6 cm", 1), ("6", "7 cm", 0),
    ("-\\frac{1}{3}", "\\frac{-1}{3}", 1), ("-\\frac{1}{3}", "\\frac{1}{-3}", 1), ("-\\frac{1}{3}", "\\frac{1}{3}", 0),
    ("1,2", "2,1", 1), ("1, 2, 3", "3, 2, 1", 1), ("1, 2", "1, 3", 0), ("-2, 1", "x = 1, x = -2", 1),
    ("\\frac{1 \\pm \\sqrt{5}}{2}", "\\frac{1+\\sqrt5}{2}, \\frac{1-\\sqrt5}{2}", 1),
    ("\\frac{1 \\pm \\sqrt{5}}{2}", "\\frac{1+\\sqrt5}{2}", 0), ("2^{10}", "1024", 1), ("2^{10}", "1,024", 1),
    ("10!", "3628800", 1), ("\\binom{5}{2}", "10", 1), ("\\dbinom{5}{2}", "10", 1),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", 1),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}2\\\\1\\end{pmatrix}", 0),
    ("\\begin{pmatrix} 1/2 & 0 \\\\ 0 & 1 \\end{pmatrix}", "\\begin{bmatrix} 0.5 & 0 \\\\ 0 & 1 \\end{bmatrix}", 1),
    ("(-\\infty, 0)", "(-\\infty,0)", 1), ("(-\\infty, 0]", "(-\\infty,0)", 0), ("[1, 2]", "[1,2]", 1),
    ("\\{-1, 1\\}", "\\{1,-1\\}", 1), ("y=-2x+5", "y = 5 - 2x", 1), ("y=-2x+5", "y = 5 + 2x", 0),
    ("x^2+y^2=25", "y^2+x^2=25", 1), ("x^2+y^2=25", "x^2+y^2=5", 0), ("2x+3y=6", "4x+6y=12", 1),
    ("\\frac{9}{7}", "9/7", 1), ("\\frac{9}{7}", "1.2857142857", 1), ("\\frac{9}{7}", "1.29", 0),
    ("0.\\overline{3}", "1/3", 1), ("3.5", "\\frac{7}{2}", 1), ("3.5", "3\\frac{1}{2}", 1),
    ("a^2 b", "b a^2", 1), ("ab+c", "c+ba", 1), ("x_1 + x_2", "x_2 + x_1", 1), ("x_1 + x_2", "x_1 + x_3", 0),
    ("\\theta", "\\theta", 1), ("2\\alpha", "\\alpha + \\alpha", 1), ("|x-1|", "|1-x|", 1),
]:
    add("hm", g, p, e)

# ---- own: extraction from completions (GSM8K, R1 format, answer phrases, fallbacks)
for g, p, e in [
    ("Natalia sold 48/2 = 24 clips in May.\n#### 72", "She sold 48 + 24 = 72 clips.\n#### 72", 1),
    ("#### 72", "#### 73", 0), ("#### 1,200", "The total is $1200.\n#### 1200", 1),
    ("18", "<think>16 - 3 - 4 = 9, 9 * 2 = 18</think><answer>18</answer>", 1),
    ("18", "<think>9*2</think><answer>\\boxed{18}</answer>", 1), ("18", "<think>...</think><answer>19</answer>", 0),
    ("18", "<think>...</think><answer> $18 </answer>", 1),
    ("42", "So the final answer is 42.", 1), ("42", "The final answer is $42$. I hope it is correct.", 1),
    ("42", "Answer: 42", 1), ("42", "answer: 41", 0), ("3", "the answer is \\boxed{3}", 1),
    ("3", "first \\boxed{2}, then corrected: \\boxed{3}", 1), ("2", "first \\boxed{2}, then corrected: \\boxed{3}", 0),
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{2}}", 1), ("\\frac{1}{2}", "\\fbox{\\frac{1}{2}}", 1), ("7", "\\boxed 7", 1),
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{2}", 0), ("5", "The answer is \\boxed{5} dollars.", 1),
    ("0", "\\boxed{0}", 1), ("0", "\\boxed{-0}", 1), ("-3", "\\boxed{-3}", 1), ("-3", "\\boxed{3}", 0),
    ("100", "\\boxed{100.00}", 1), ("100", "\\boxed{1e2}", 1), ("1/4", "\\boxed{25\\%}", 1),
    ("1000000", "\\boxed{1,000,000}", 1), ("1000000", "\\boxed{10^6}", 1), ("1000000", "\\boxed{10^{6}}", 1),
    ("12", "\\boxed{12 \\text{ apples}}", 1), ("12", "\\boxed{\\text{12}}", 1), ("\\infty", "\\boxed{\\infty}", 1),
    ("-\\infty", "\\boxed{\\infty}", 0), ("\\sqrt{2}", "\\boxed{2^{1/2}}", 1), ("\\sqrt[3]{2}", "\\boxed{2^{1/3}}", 1),
    ("\\sqrt[3]{8}", "2", 1), ("\\sqrt{16}", "4", 1), ("\\sqrt{-1}", "1", 0), ("\\frac{1}{0}", "1", 0),
    ("x^2", "x*x", 1), ("x^3", "x^2", 0), ("\\frac{1}{x}", "x^{-1}", 1), ("\\sin(\\pi/6)", "1/2", 1),
    ("\\cos \\pi", "-1", 1), ("\\tan(\\pi/4)", "1", 1), ("\\arctan 1", "\\pi/4", 1), ("e", "2.718281828459", 1),
    ("e", "2.72", 0), ("\\pi/2", "\\frac{\\pi}{2}", 1), ("\\frac{\\pi}{2}", "90", 0),
    ("3:00", "3:00", 1), ("\\text{A}", "A", 1), ("\\textbf{(D)}", "D", 1), ("E", "(E) 42", 1), ("E", "(D) 42", 0),
    ("\\text{even}", "\\text{Even}", 1), ("\\text{odd}", "even", 0), ("\\text{North}", "\\text{north}", 1),
    ("1 + \\sqrt{3}", "\\sqrt{3} + 1", 1), ("1 + \\sqrt{3}", "\\sqrt{3} - 1", 0), ("5\\sqrt{5}", "\\sqrt{125}", 1),
    ("\\frac{5\\sqrt{42}}{27}", "\\frac{10\\sqrt{10.5}}{27}", 1), ("\\frac{5\\sqrt{42}}{27}", "\\frac{5\\sqrt{41}}{27}", 0),
    ("(1, -2)", "(1,-2)", 1), ("(1, -2)", "\\left(1, -2\\right)", 1), ("(1, -2)", "(-2, 1)", 0), ("(1, -2)", "1, -2", 0),
    ("[2, 5)", "[2,5)", 1), ("[2, 5)", "(2,5)", 0), ("[2, 5)", "[2,5]", 0), ("2 \\le x < 5", "[2,5)", 1),
    ("x > -1", "(-1, \\infty)", 1), ("x \\ne 3", "x \\neq 3", 1), ("\\emptyset", "\\varnothing", 1),
    ("1.5", "\\frac{3}{2}", 1), ("1.5", "3/2", 1), ("1.5", "1\\frac12", 1), ("0.001", "10^{-3}", 1),
    ("0.001", "0.0010", 1), ("123456789012", "123,456,789,012", 1), ("123456789012", "123456789013", 0),
    ("99999999999999999999", "99999999999999999999", 1), ("2^{100}", "2^{100}", 1), ("2^{100}", "2^{99}\\cdot 2", 1),
    ("2^{100}", "2^{101}", 0), ("\\frac{2}{3}", "0.6667", 0), ("\\frac{2}{3}", "0.6666666667", 1),
    ("8", "The number is 8.\n\nTherefore the answer is 8.", 1), ("8", "no answer given here", 0),
    ("5", "", 0), ("", "5", 0), ("x", "x", 1), ("x", "y", 0), ("2x+1", "1+2x", 1), ("2x+1", "2y+1", 0),
    ("\\frac{x+1}{2}", "\\frac{1}{2}x + \\frac{1}{2}", 1), ("n(n+1)/2", "\\frac{n^2+n}{2}", 1),
    ("n(n+1)/2", "\\frac{n^2-n}{2}", 0), ("\\frac{1}{2}", "\\boxed{\\left(\\frac{1}{2}\\right)}", 1),
    ("\\$5", "5 dollars", 1), ("5", "\\boxed{5\\,\\text{cm}}", 1), ("20", "20 \\text{ minutes}", 1),
    ("14", "$x = 14$", 1), ("f(x) = 2x", "2x", 1),
]:
    add("own", g, p, e)

# ---- gen: the same rational written as a fraction, decimal, LaTeX \frac, or a neighbour
rng = random.Random(20240521)
forms = 0
while forms < 70:
    den = rng.choice([2, 4, 5, 8, 10, 16, 20, 25, 40, 50])
    num = rng.randint(-400, 400)
    q = Fraction(num, den)
    if q.denominator == 1:
        continue
    dec = format(float(q), ".10g")
    frac = f"\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"
    if q < 0:
        frac = "-" + frac
    kind = forms % 5
    if kind == 0:
        add("gen", frac, dec, True)
    elif kind == 1:
        add("gen", dec, f"{q.numerator}/{q.denominator}", True)
    elif kind == 2:
        add("gen", frac, format(float(q + Fraction(1, 100)), ".10g"), False)
    elif kind == 3:
        add("gen", f"\\boxed{{{frac}}}", f"The final answer is ${dec}$.", True)
    else:
        other = q + Fraction(rng.choice([-1, 1]), den)
        add("gen", frac, f"\\frac{{{other.numerator}}}{{{other.denominator}}}", other == q)
    forms += 1

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rewards", "math_cases.jsonl")
with open(out, "w") as f:
    for c in C:
        f.write(json.dumps(c) + "\n")
print(f"wrote {len(C)} cases to {os.path.normpath(out)}")
