#!/usr/bin/env python3
"""tests/viewer/browser_test.py: headless Chromium against `grpo view` and `grpo report`, on the
database of a short demo run with hostile text planted in it.

    python3 tests/viewer/browser_test.py build/grpo [--keep DIR] [--screenshots DIR] [--small]

Checks, each against what the database holds (read with Python's sqlite3):
  - the overview draws every plot, one SVG series per metric with one point per step that has it;
  - the step view lists the step's completions (prompt, sample, reward) and nothing else;
  - a search finds the planted string, and only it;
  - completions holding <script>, <img onerror>, </textarea> and javascript: links render as text:
    no script of theirs runs (they would mark <body>), no element or link of theirs exists;
  - the same in the one-file report, which says when --max-rollouts capped it;
  - steps committed (by a writer with no busy timeout, which never fails) while the overview is open
    are drawn by its polling, without a reload (a proxy between the browser and the viewer has a
    step committed before each poll, so the check cannot race Chromium's virtual time);
  - the database file is byte for byte unchanged after the browser sessions.
Exit 77 (skip) when chromium is not installed. Standard library only.
"""
import hashlib
import html.parser
import http.server
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PLANTED = "zqx-planted-4471"
MARK = "document.body.setAttribute('data-pwned'"
PAYLOADS = [
    "<script>" + MARK + ",'script')</script>",
    "<img src=x onerror=\"" + MARK + ",'img')\">",
    "</textarea><svg onload=\"" + MARK + ",'svg')\"></svg>",
    "<a href=\"javascript:" + MARK + ",'link')\">click me</a>",
    "</pre></div><iframe src=\"javascript:alert(1)\"></iframe>",
]

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def chromium_bin():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Dom(html.parser.HTMLParser):
    """The elements of a dumped DOM as (tag, attrs) in document order, and its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


PROFILE = None  # a user-data dir of the test's own, so no profile lock is shared with anything else


def flags():
    return ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + PROFILE]


class LiveWriter:
    """Commits steps to a live database with no busy timeout (a lock the viewer held would fail
    it): one step every 10 ms from a thread while started, and one on demand (commit_now)."""

    def __init__(self, path, last):
        self.con = sqlite3.connect(path, timeout=0, check_same_thread=False)
        self.step, self.commits, self.errors = last, 0, []
        self.lock, self.done = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def commit_now(self):
        with self.lock:
            self.step += 1
            try:
                self.con.execute("INSERT INTO steps(run_id, step, created_at, reward_mean) VALUES(1, ?, 'now', 0.5)",
                                 (self.step,))
                self.con.commit()
                self.commits += 1
            except sqlite3.OperationalError as e:
                self.errors.append(str(e))

    def _run(self):
        while not self.done.wait(0.01):
            self.commit_now()

    def start(self):
        self.thread.start()

    def stop(self):
        self.done.set()
        self.thread.join()
        self.con.close()


class PollProxy:
    """Forwards the browser's requests to `grpo view`; before it forwards a poll for new steps
    (steps?after=N, N a stored step: not the first load's after=-2) it has the writer commit one,
    so every poll has a step to find however fast virtual time runs (it did run ahead of a writer
    on a timer: the page polled 20 times before the first commit on a fast machine)."""

    def __init__(self, upstream, writer):
        outer = self
        self.polls = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                q = urllib.parse.urlsplit(self.path)
                after = urllib.parse.parse_qs(q.query).get("after", [""])[0]
                if q.path == "/api/steps" and after not in ("", "-2"):
                    outer.polls += 1
                    writer.commit_now()
                try:
                    with urllib.request.urlopen(upstream + self.path, timeout=30) as r:
                        code, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
                except urllib.error.HTTPError as e:
                    code, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def dump(chrome, url, budget_ms=6000):
    out = subprocess.run([chrome] + flags() + ["--virtual-time-budget=%d" % budget_ms, "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    d = Dom()
    d.feed(out.stdout)
    d.raw = out.stdout
    return d


def screenshot(chrome, url, path):
    subprocess.run([chrome] + flags() + ["--hide-scrollbars", "--window-size=1400,1000", "--virtual-time-budget=6000",
                                         "--screenshot=" + path, url],
                   capture_output=True, timeout=120)


def check_search_pages(chrome, base, con, text, label):
    """The search page lists the first 50 matches in the order written and links to the next 50."""
    want = [(str(st), str(p), str(j)) for st, p, j in con.execute(
        "SELECT step, prompt_id, sample_index FROM rollouts WHERE instr(lower(completion_text), ?) > 0 ORDER BY rowid",
        (text,))]
    url, got = base + "#/search?q=" + text, []
    for page in range(2):
        d = dump(chrome, url)
        got += [(a.get("data-step"), a.get("data-prompt"), a.get("data-sample"))
                for t, a in d.elements if t == "div" and "result" in a.get("class", "").split()]
        nxt = [a for t, a in d.elements if t == "a" and a.get("id") == "search-next"]
        if not nxt:
            break
        url = base + nxt[0]["href"]
    check(len(want) > 50, "%s: '%s' is in more than one page of completions (%d)" % (label, text, len(want)))
    check(got == want[:100], "%s: two search pages list the first %d of %d matches in order (got %d)"
          % (label, min(100, len(want)), len(want), len(got)))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---------------------------------------------------------------- expectations from the database

METRIC_PLOTS = {
    "reward": ["reward_mean"], "accuracy": ["accuracy"], "length": ["completion_len_mean", "completion_len_max"],
    "truncation": ["truncated_frac"], "kl": ["kl"], "entropy": ["entropy"], "clip": ["clip_frac_low", "clip_frac_high"],
    "zero_std": ["zero_std_frac"], "tokens_per_s": ["tokens_per_s_sampling", "tokens_per_s_training"],
}


def expected_plots(con):
    """{plot id: {series name: number of points}} for the overview."""
    want = {}
    for plot, cols in METRIC_PLOTS.items():
        want[plot] = {c: con.execute("SELECT count(*) FROM steps WHERE %s IS NOT NULL" % c).fetchone()[0] for c in cols}
    want["components"] = dict(con.execute(
        "SELECT name, count(DISTINCT step) FROM reward_components WHERE value IS NOT NULL GROUP BY name"))
    want["evals"] = {"%s/%s/%s" % (n, s, m): k for n, s, m, k in con.execute(
        "SELECT name, split, metric, count(*) FROM evals WHERE value IS NOT NULL GROUP BY name, split, metric")}
    return want


def check_plots(dom, want, where):
    plots = {}
    current = None
    for tag, a in dom.elements:
        if tag == "svg" and "data-plot" in a:
            current = a["data-plot"]
            plots[current] = {}
        elif tag == "polyline" and current is not None and "data-metric" in a:
            n = len(a.get("points", "").split()) if a.get("points") else 0
            plots[current][a["data-metric"]] = (n, int(a.get("data-points", -1)))
    for plot, series in want.items():
        got = plots.get(plot)
        check(got is not None, "%s: plot '%s' is drawn" % (where, plot))
        if got is None:
            continue
        check(sorted(got) == sorted(series), "%s: plot '%s' has one series per metric %s (got %s)" %
              (where, plot, sorted(series), sorted(got)))
        for name, n in series.items():
            pts = got.get(name, (None, None))
            check(pts[0] == n and pts[1] == n, "%s: %s/%s has %d points (got %s)" % (where, plot, name, n, pts[0]))


def check_step(dom, con, step, where, limit=None):
    rows = con.execute("SELECT prompt_id, sample_index, reward_total FROM rollouts WHERE step=? ORDER BY prompt_id, "
                       "sample_index", (step,)).fetchall()
    want = sorted((p, j, round(r, 6)) for p, j, r in rows)
    got = sorted((int(a["data-prompt"]), int(a["data-sample"]), round(float(a["data-reward"]), 6))
                 for tag, a in dom.elements if tag == "div" and "completion" in a.get("class", "").split())
    check(got == want, "%s: step %d lists its %d completions with their rewards (got %d)" % (where, step, len(want), len(got)))
    groups = [a for tag, a in dom.elements if tag == "section" and "data-prompt" in a]
    n_prompts = len({p for p, _, _ in want})
    check(len(groups) == n_prompts, "%s: step %d shows %d groups, the prompt once each (got %d)" %
          (where, step, n_prompts, len(groups)))


def check_safe(dom, where, expect_text=True):
    body = [a for tag, a in dom.elements if tag == "body"]
    check(body and "data-pwned" not in body[0], "%s: no planted script ran (body unmarked)" % where)
    scripts = [a for tag, a in dom.elements if tag == "script" and a.get("type") != "application/json"]
    check(len(scripts) == 1, "%s: only the page's own script element (got %d)" % (where, len(scripts)))
    bad = [(t, a) for t, a in dom.elements if t in ("img", "iframe", "textarea") or any(k.startswith("on") for k in a)
           or a.get("href", "").strip().lower().startswith("javascript:")]
    check(not bad, "%s: no element, handler or javascript: link from the text (got %s)" % (where, bad[:3]))
    if expect_text:
        text = "".join(dom.text)
        check(all(p in text for p in PAYLOADS[:4]), "%s: the hostile text is shown, as text" % where)


def ready(dom, page):
    body = [a for tag, a in dom.elements if tag == "body"]
    return bool(body) and body[0].get("data-ready") == page


# ---------------------------------------------------------------- the run

def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    grpo = os.path.abspath(args[0])
    keep = args[args.index("--keep") + 1] if "--keep" in args else None
    shots = args[args.index("--screenshots") + 1] if "--screenshots" in args else None
    chrome = chromium_bin()
    if not chrome:
        print("skip: chromium is not installed (scripts/setup.sh installs Debian's chromium)")
        return 77
    work = keep or tempfile.mkdtemp(prefix="grpo-browser-")
    os.makedirs(work, exist_ok=True)
    global PROFILE
    PROFILE = os.path.join(work, "chromium-profile")
    db = os.path.join(work, "runs", "demo", "rollouts.db")
    if not os.path.exists(db):
        # the demo, short: 40 SFT steps, 3 GRPO steps of 8 prompts x 8 completions, an eval every step
        # (--small: 5 SFT steps, 2 steps of 2 prompts x 8); a constant cold-start lr without weight decay
        # (not the demo's cosine), so 40 steps teach the answer tags the search checks look for
        small = "--small" in args
        sizes = ["5", "2", "16", "16"] if small else ["40", "3", "50", "64"]
        r = subprocess.run([grpo, "demo", "--sft_steps", sizes[0], "--max_steps", sizes[1], "--eval_steps", "1",
                            "--sft_lr_scheduler_type", "constant", "--weight_decay", "0", "--eval_size", sizes[2], "--generation_batch_size", sizes[3], "--per_device_train_batch_size",
                            sizes[3], "--output_dir", os.path.join(work, "runs")], capture_output=True, text=True, cwd=work)
        check(r.returncode == 0, "a short demo run writes a database (%s)" % r.stderr[-300:])
        if r.returncode:
            return 1
    planted = os.path.join(work, "planted.db")
    src = sqlite3.connect(db)
    dst = sqlite3.connect(planted)
    src.backup(dst)
    src.close()
    last = dst.execute("SELECT max(step) FROM steps").fetchone()[0]
    # the hostile text and the planted string go into one completion of the last step (the one a capped
    # report always keeps), into its prompt and into a reason; the FTS index follows by trigger
    pid, j = dst.execute("SELECT prompt_id, sample_index FROM rollouts WHERE step=? ORDER BY prompt_id, sample_index "
                         "LIMIT 1", (last,)).fetchone()
    dst.execute("UPDATE rollouts SET completion_text = ? WHERE step=? AND prompt_id=? AND sample_index=?",
                (PLANTED + " " + " ".join(PAYLOADS), last, pid, j))
    dst.execute("UPDATE prompts SET prompt_text = ? WHERE prompt_id=?", ("Compute " + PAYLOADS[0], pid))
    dst.execute("UPDATE reward_components SET reason = ? WHERE step=? AND prompt_id=? AND sample_index=?",
                (PAYLOADS[1], last, pid, j))
    dst.commit()
    dst.execute("PRAGMA journal_mode=WAL")
    dst.close()
    con = sqlite3.connect("file:%s?mode=ro" % planted, uri=True)
    before = sha(planted)

    view = subprocess.Popen([grpo, "view", "--db", planted, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = view.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        check(m is not None, "grpo view prints its loopback address (%s)" % line.strip())
        if not m:
            return 1
        base = "http://127.0.0.1:%s/" % m.group(1)
        want = expected_plots(con)

        d = dump(chrome, base)
        check(ready(d, "overview"), "viewer: the overview renders")
        check_plots(d, want, "viewer")

        d = dump(chrome, base + "#/step/%d" % last)
        check(ready(d, "step"), "viewer: the step view renders")
        check_step(d, con, last, "viewer")
        check_safe(d, "viewer step view")

        d = dump(chrome, base + "#/search?q=" + PLANTED)
        results = [a for t, a in d.elements if t == "div" and "result" in a.get("class", "").split()]
        check(len(results) == 1 and results[0].get("data-step") == str(last) and results[0].get("data-prompt") == str(pid),
              "viewer: a search finds the planted string, once (got %d)" % len(results))
        check_safe(d, "viewer search", expect_text=False)

        if "--small" in args:
            print("skip viewer: search paging (--small's database has too few completions for two pages)")
        else:
            check_search_pages(chrome, base, con, "answer", "viewer")

        d = dump(chrome, base + "#/search?q=%3Cscript%3E")
        check(len([a for t, a in d.elements if t == "div" and "result" in a.get("class", "").split()]) == 1,
              "viewer: searching for '<script>' finds the hostile completion")
        check_safe(d, "viewer search for <script>", expect_text=False)

        d = dump(chrome, base + "#/prompt/%d" % pid)
        check(ready(d, "prompt"), "viewer: the prompt history renders")
        check_safe(d, "viewer prompt history")
        d = dump(chrome, base + "#/evals")
        check(ready(d, "evals"), "viewer: the evaluations page renders")
        if shots:
            os.makedirs(shots, exist_ok=True)
            screenshot(chrome, base, os.path.join(shots, "viewer-overview.png"))
            screenshot(chrome, base + "#/step/%d?sort=best" % last, os.path.join(shots, "viewer-step.png"))
    finally:
        view.terminate()
        view.wait(timeout=10)
    con.close()
    check(sha(planted) == before, "the database file is unchanged after the viewer sessions")

    # ---- live: a step committed while the overview is open appears without a reload
    live = os.path.join(work, "live.db")
    src = sqlite3.connect(planted)
    dst = sqlite3.connect(live)
    src.backup(dst)
    src.close()
    dst.close()
    view = subprocess.Popen([grpo, "view", "--db", live, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", view.stdout.readline())
        writer = LiveWriter(live, last)
        proxy = PollProxy("http://127.0.0.1:%s" % m.group(1), writer)
        writer.start()
        page = subprocess.run([chrome] + flags() + ["--virtual-time-budget=20000", "--dump-dom", proxy.url],
                              capture_output=True, text=True, timeout=120)
        writer.stop()
        proxy.close()
        d = Dom()
        d.feed(page.stdout)
        body = [a for t, a in d.elements if t == "body"]
        loaded = int(body[0].get("data-steps-loaded", -1)) if body else -1
        shown = int(body[0].get("data-steps-shown", -1)) if body else -1
        pts = [int(a.get("data-points", -1)) for t, a in d.elements if t == "polyline" and a.get("data-metric") == "reward_mean"]
        check(writer.commits > 0 and not writer.errors, "viewer: the writer never got SQLITE_BUSY while the page "
              "polled (%d commits; %s)" % (writer.commits, writer.errors[:1]))
        check(proxy.polls > 0, "viewer: the open overview polled for new steps (%d polls)" % proxy.polls)
        check(0 < loaded < shown and pts == [shown], "viewer: steps committed while the overview is open are drawn "
              "without a reload (first draw %d steps, then %d; %s points)" % (loaded, shown, pts))
    finally:
        view.terminate()
        view.wait(timeout=10)

    # ---- the report: everything, then capped
    # the capped report keeps the rollouts of one step: the last (a capped report always keeps it)
    per_step = sqlite3.connect(planted).execute("SELECT count(*) FROM rollouts WHERE step=?", (last,)).fetchone()[0]
    for cap, label in ((1000000, "report"), (per_step, "capped report")):
        out = os.path.join(work, "report-%d.html" % cap)
        r = subprocess.run([grpo, "report", "--db", planted, "-o", out, "--max-rollouts", str(cap)],
                           capture_output=True, text=True)
        check(r.returncode == 0 and os.path.exists(out), "%s is written (%s)" % (label, (r.stdout + r.stderr).strip()))
        raw = open(out, encoding="utf-8").read()
        check("<script src" not in raw and "http://" not in raw.replace("http://www.w3.org/2000/svg", ""),
              "%s: self-contained (no external script, no http URL)" % label)
        url = "file://" + out
        d = dump(chrome, url)
        check(ready(d, "overview"), "%s: the overview renders" % label)
        con = sqlite3.connect("file:%s?mode=ro" % planted, uri=True)
        check_plots(d, expected_plots(con), label)
        banner = "".join(d.text)
        if cap < 1000000:
            check("capped by --max-rollouts %d" % cap in banner, "%s: the page says it is capped" % label)
        d = dump(chrome, url + "#/step/%d" % last)
        check_step(d, con, last, label)
        check_safe(d, label + " step view")
        d = dump(chrome, url + "#/search?q=" + PLANTED)
        results = [a for t, a in d.elements if t == "div" and "result" in a.get("class", "").split()]
        check(len(results) == 1, "%s: a search finds the planted string (got %d)" % (label, len(results)))
        con.close()
        print("     %s: %.1f KiB" % (label, os.path.getsize(out) / 1024))
    check(sha(planted) == before, "the database file is unchanged after the reports")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
