#!/usr/bin/env python3
"""tests/scripts/make_tokenizer_corpus.py: writes the tokenizer parity corpus.

Deterministic (seeded) strings, one JSON string per line, gzip-compressed, into
tests/fixtures/tokenizer/corpus.jsonl.gz. The kinds of text, about 5600 strings in all:
English and multilingual prose, CJK, emoji and ZWJ sequences, combining marks (composed and
decomposed), code with tabs and long whitespace runs, LaTeX math, numbers of many lengths, special
tokens of the Qwen, Llama-3 and DeepSeek families inline, empty and 1-byte strings, odd whitespace,
and random Unicode from every plane.

    python3 tests/scripts/make_tokenizer_corpus.py [--out PATH]
"""
import argparse
import gzip
import json
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EN_WORDS = """the a an of to and in is was for on that with as by at from it be this are or have not
which but all were when we there can had has one their more will would about if out so what up
into them some could time these two may then do first any my now such like our over man me even
most made after also did many before must through back years where much your way well down should
because each just those people how too little state good very make world still own see men work
long get here between both life being under never day same another know while last might us great
old year off come since against go came right used take three number water sum prime answer
triangle circle square root equation solve compute therefore hence thus reason step check value""".split()

MULTI = [
    "Übergrößenträger straße Fußgängerübergänge Äpfel Öl", "naïve café résumé façade déjà vu coöperate",
    "¿Dónde está la biblioteca? ¡Señor Muñoz!", "Привет, как дела? Съешь же ещё этих мягких булок",
    "Γειά σου Κόσμε· ἀρχὴ ἥμισυ παντός", "مرحبا بالعالم، كيف حالك؟", "שלום עולם", "नमस्ते दुनिया, आप कैसे हैं",
    "สวัสดีชาวโลก", "Xin chào thế giới, Tiếng Việt có dấu", "Zażółć gęślą jaźń", "Příliš žluťoučký kůň úpěl ďábelské ódy",
    "Árvíztűrő tükörfúrógép", "ქართული ენა", "Հայերեն լեզու", "ᚠᛇᚻ᛫ᛒᛦᚦ", "Ṫhë qüïck brøwn fôx", "ﬁne ﬂour ﬀ ĳ",
    "İstanbul ıslak ığdır", "Tōkyō Ōsaka Kyōto", "ǅemal ǈubljana ǋegoš", "ΣΊΣΥΦΟΣ σίσυφος ς",
]
CJK = [
    "你好，世界！今天天气很好。", "数学题：一个数的三倍加上五等于二十，这个数是多少？", "我们需要一步一步地思考。",
    "こんにちは世界。カタカナとひらがなを混ぜる。", "東京都渋谷区で会いましょう", "안녕하세요 세계! 한국어 문장입니다.",
    "答案是：１２３。全角数字と全角ＡＢＣ", "「引用」『二重』【括弧】〔亀甲〕", "繁體中文與简体中文混合使用",
]
EMOJI = [
    "👋", "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "🇺🇸🇯🇵🇩🇪", "1️⃣2️⃣#️⃣", "❤️‍🔥", "🧑🏿‍🤝‍🧑🏻", "😀😃😄😁", "🤔💭", "✅❌⚠️",
    "🐍 + 🦀 = 💥", "👍🏻👍🏼👍🏽👍🏾👍🏿", "🫠🫡🫥", "\U0001F9D1\u200D\U0001F680",
]
COMBINING = [
    "e\u0301", "a\u0308o\u0308u\u0308", "n\u0303", "Zalgo: Z\u0351\u0352\u0353a\u0300\u0301\u0302l\u0363\u0364g\u0365o\u0366",
    "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u1173\u11af", "A\u030a", "\u0041\u0327\u0301", "q\u0307\u0323",
    "\u0915\u094d\u0937", "o\u0328\u0304", "\u05e9\u05c1\u05b8", "\u0627\u0653", "ǖ vs u\u0308\u0304",
    "\u212b \u2126 \u1e9b\u0323", "x\u0300\u0316\u0301\u0317",
]
SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<|begin_of_text|>", "<|eot_id|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_5|>", "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<|fim_prefix|>", "<mask>", "<|im_sta", "|>", "<|",
]
ODD_SPACE = ["\u00a0", "\u3000", "\u2028", "\u2029", "\u180e", "\u200b", "\ufeff", "\x1c", "\x1d", "\x85", "\x0b",
             "\x0c", "\r\n", "\r", "\t", "\u2003", "\u202f", "\u205f", "\u1680"]
LATEX = [
    r"\frac{a}{b}", r"$x^2 + y^2 = z^2$", r"\sum_{i=1}^{n} i = \frac{n(n+1)}{2}", r"\int_0^\infty e^{-x^2}\,dx",
    r"\boxed{42}", r"\sqrt[3]{27} = 3", r"\begin{align} a &= b \\ c &= d \end{align}", r"\mathbb{R}^n",
    r"$$\lim_{x\to 0}\frac{\sin x}{x}=1$$", r"\alpha\beta\gamma \le \epsilon", r"\left( \frac{1}{2} \right)^{10}",
]
CODE_LINES = [
    "def f(x):", "\treturn x * 2", "for (int i = 0; i < n; i++) {", "\t\tsum += a[i];", "}", "    if x is None:",
    "        raise ValueError('bad')", "#include <stdio.h>", "int main(void) { printf(\"%d\\n\", 42); }",
    "SELECT * FROM t WHERE id = 3;", "x = [i**2 for i in range(10)]  # squares", "fn main() -> Result<(), E> {",
    "        let v: Vec<u8> = vec![];", "const f = (a, b) => a + b;", "    # don't we'll they're I'm I've",
    "\t\t\t\tdeeply\tindented", "if (a&&b||!c) {x->y = *p++;}", "a\r\nb\r\nc",
]


def word(rng):
    return rng.choice(EN_WORDS)


def english(rng):
    n = rng.randint(3, 40)
    out = []
    for i in range(n):
        w = word(rng)
        if i == 0 or rng.random() < 0.08:
            w = w.capitalize()
        if rng.random() < 0.03:
            w = w.upper()
        if rng.random() < 0.06:
            w += rng.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'ſ"])
        out.append(w)
        if rng.random() < 0.1:
            out[-1] += rng.choice([",", ".", ";", ":", "!", "?", "...", " -", "\n", "\n\n"])
    return " ".join(out)


def number(rng):
    k = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 30, 40])
    s = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(k - 1))
    return rng.choice([s, "-" + s, s + "." + str(rng.randint(0, 999)), f"{int(s):,}", "$" + s, s + "%", "0x" + s[:8],
                       s[:3] + "/" + s[-2:], f"{rng.random():.6e}"])


def code(rng):
    lines = [rng.choice(CODE_LINES) for _ in range(rng.randint(1, 12))]
    if rng.random() < 0.4:
        lines.insert(rng.randrange(len(lines) + 1), " " * rng.randint(2, 120) + "x")
    if rng.random() < 0.3:
        lines.append("\t" * rng.randint(1, 10))
    if rng.random() < 0.2:
        lines.append(" " * rng.randint(1, 300))
    return "\n".join(lines)


def rand_unicode(rng, n):
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            cp = rng.randint(0x20, 0x7E)
        elif r < 0.6:
            cp = rng.randint(0xA0, 0x2FFF)
        elif r < 0.75:
            cp = rng.randint(0x3000, 0xD7FF)
        elif r < 0.85:
            cp = rng.randint(0xE000, 0xFFFD)
        else:
            cp = rng.randint(0x10000, 0x10FFFF)
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0x41
        out.append(chr(cp))
    return "".join(out)


def mixed(rng):
    parts = []
    for _ in range(rng.randint(2, 8)):
        k = rng.random()
        if k < 0.25:
            parts.append(english(rng))
        elif k < 0.35:
            parts.append(rng.choice(MULTI))
        elif k < 0.45:
            parts.append(rng.choice(CJK))
        elif k < 0.52:
            parts.append(rng.choice(EMOJI))
        elif k < 0.6:
            parts.append(rng.choice(COMBINING))
        elif k < 0.68:
            parts.append(rng.choice(SPECIALS))
        elif k < 0.76:
            parts.append(rng.choice(LATEX))
        elif k < 0.84:
            parts.append(number(rng))
        elif k < 0.9:
            parts.append(rng.choice(ODD_SPACE) * rng.randint(1, 4))
        else:
            parts.append(code(rng))
    sep = rng.choice(["", " ", "\n", "  ", "\t"])
    return sep.join(parts)


def build():
    rng = random.Random(20250601)
    out = ["", " ", "  ", "\n", "\t", "\r\n", "a", "é", "中", "👋", "0", "00", "000", "0000"]
    out += [chr(c) for c in range(1, 128)]  # every 1-byte string (NUL is not valid in our JSON corpus reader)
    out += ["\u00a0", "\u00ff", "\u0100", "\u0300", "\u4e00", "\uffff", "\U0010ffff", "\U0001f600"]
    out += SPECIALS + [s + s for s in SPECIALS] + ["x" + s + "y" for s in SPECIALS] + [" " + s + " " for s in SPECIALS]
    out += ["a" + w + "b" for w in ODD_SPACE] + [w * 3 for w in ODD_SPACE] + ["x" + w + " y" for w in ODD_SPACE]
    out += MULTI + CJK + EMOJI + COMBINING + LATEX + CODE_LINES
    for _ in range(1200):
        out.append(english(rng))
    for _ in range(500):
        out.append(" ".join(rng.choice(MULTI) for _ in range(rng.randint(1, 4))))
    for _ in range(400):
        out.append("".join(rng.choice(CJK) for _ in range(rng.randint(1, 3))))
    for _ in range(300):
        out.append(" ".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 5))) + rng.choice(["", " ok", "!"]))
    for _ in range(300):
        out.append(" ".join(rng.choice(COMBINING) + word(rng) for _ in range(rng.randint(1, 4))))
    for _ in range(500):
        out.append(code(rng))
    for _ in range(300):
        out.append(" ".join(rng.choice(LATEX) for _ in range(rng.randint(1, 3))))
    for _ in range(500):
        out.append(" ".join(number(rng) for _ in range(rng.randint(1, 6))))
    for _ in range(300):
        out.append(rand_unicode(rng, rng.randint(1, 40)))
    for _ in range(900):
        out.append(mixed(rng))
    for _ in range(20):  # a few long documents
        out.append("\n\n".join(mixed(rng) for _ in range(30)))
    out.append(" " * 5000)
    out.append("\t" * 300 + "x" + "\n" * 200)
    out.append("9" * 2000)
    out.append("ab" * 3000)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "tests/fixtures/tokenizer/corpus.jsonl.gz"))
    a = ap.parse_args()
    corpus = build()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with gzip.GzipFile(a.out, "wb", mtime=0) as f:
        for s in corpus:
            f.write((json.dumps(s, ensure_ascii=True) + "\n").encode())
    print(f"{a.out}: {len(corpus)} strings, {sum(len(s.encode()) for s in corpus)} bytes of UTF-8")


if __name__ == "__main__":
    main()
