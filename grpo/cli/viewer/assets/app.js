/* grpo view: the pages (overview, step, prompt history, search, evaluations) over the JSON API of
 * docs/viewer.md, or over the data embedded in a report. Every text from the database is put in the
 * page as a text node (never as markup), and every link is built from numbers or encoded strings. */
'use strict';
(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const COLORS = ['#2f5fd0', '#d0542f', '#1a9c6b', '#9c27b0', '#c9a000', '#00838f', '#6d4c41', '#e91e63'];
  const main = document.getElementById('main');

  /* ---------------------------------------------------------------- building the page safely */

  /* An element with attributes (strings set with setAttribute) and children (strings become text nodes). */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'onclick' || k === 'onchange' || k === 'onsubmit') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }
  /* A link to a page of this viewer: hash is built by the caller from numbers or encodeURIComponent. */
  function link(hash, ...kids) { return el('a', { href: '#/' + hash }, ...kids); }
  const fmt = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v)) ? '–' : (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v).toFixed(d));
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  /* ---------------------------------------------------------------- the data: the API or a report */

  const embedded = document.getElementById('grpo-data');
  const REPORT = embedded ? JSON.parse(embedded.textContent) : null;
  const api = REPORT ? reportApi(REPORT) : httpApi;

  async function httpApi(path) {
    const r = await fetch('/api/' + path, { cache: 'no-store' });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
    return j;
  }

  /* The API's answers computed from a report's embedded data (the same shapes, over what it holds). */
  function reportApi(D) {
    const all = () => Object.values(D.rollouts).flat();
    const int = (p, k, d) => p.has(k) ? Number(p.get(k)) : d;
    function snippet(text, q) {
      const i = q ? text.toLowerCase().indexOf(q.toLowerCase()) : -1;
      if (i < 0) return [text.slice(0, 160), '', ''];
      return [text.slice(Math.max(0, i - 60), i), text.slice(i, i + q.length), text.slice(i + q.length, i + q.length + 60)];
    }
    const routes = {
      run: () => D.run,
      steps: (p) => { const a = int(p, 'after', -2); const s = D.steps.filter((x) => x.step > a); return { steps: s, more: false, last: s.length ? s[s.length - 1].step : a }; },
      evals: () => ({ evals: D.evals, total: D.evals.length, offset: 0 }),
      rollouts: (p) => {
        const step = int(p, 'step', -1), off = int(p, 'offset', 0), lim = int(p, 'limit', 64);
        const rows = D.rollouts[String(step)];
        if (!rows) throw new Error('step ' + step + ' is not in this report (it keeps ' + D.cap.included + ' of ' + D.cap.total + ' rollouts)');
        return { step, total: rows.length, offset: off, limit: lim, rollouts: rows.slice(off, off + lim), prompts: D.prompts };
      },
      search: (p) => {
        const q = p.get('q') || '', lo = int(p, 'min_reward', -Infinity), hi = int(p, 'max_reward', Infinity);
        const smin = int(p, 'step_min', -Infinity), smax = int(p, 'step_max', Infinity), fin = p.get('finish');
        const comp = p.get('component'), cmin = int(p, 'component_min', -Infinity), cmax = int(p, 'component_max', Infinity);
        const hits = all().filter((r) => (!q || (r.completion_text || '').toLowerCase().includes(q.toLowerCase())) &&
          r.reward_total >= lo && r.reward_total <= hi && r.step >= smin && r.step <= smax && (!fin || r.finish_reason === fin) &&
          (!comp || r.components.some((c) => c.name === comp && c.value >= cmin && c.value <= cmax)));
        const after = int(p, 'after', 0), lim = int(p, 'limit', 50);
        const rest = hits.filter((r) => r.rollout_id > after).sort((a, b) => a.rollout_id - b.rollout_id);
        const page = rest.slice(0, lim), more = rest.length > lim;
        return { after, limit: lim, more, next: more ? page[page.length - 1].rollout_id : null, scanned: all().length,
          scanned_to_step: null, full_text_index: false,
          rollouts: page.map((r) => Object.assign({}, r, { snippet: snippet(r.completion_text || '', q) })) };
      },
      prompt: (p, id) => {
        const rows = all().filter((r) => r.prompt_id === id).sort((a, b) => a.step - b.step || a.sample_index - b.sample_index);
        if (!rows.length) throw new Error('prompt ' + id + ' is not in this report');
        const by = {};
        for (const r of rows) (by[r.step] = by[r.step] || []).push(r.reward_total);
        const steps = Object.entries(by).map(([s, v]) => ({ step: Number(s), n: v.length, reward_mean: v.reduce((a, b) => a + b, 0) / v.length, reward_max: Math.max(...v), reward_min: Math.min(...v) }));
        const off = int(p, 'offset', 0), lim = int(p, 'limit', 64);
        return { prompt_id: id, steps, total: rows.length, offset: off, limit: lim, prompts: D.prompts, rollouts: rows.slice(off, off + lim) };
      },
    };
    return async function (path) {
      const [route, qs] = path.split('?');
      const p = new URLSearchParams(qs || '');
      if (route.startsWith('prompt/')) return routes.prompt(p, Number(route.slice(7)));
      if (!routes[route]) throw new Error('no route ' + route);
      return routes[route](p);
    };
  }

  /* ---------------------------------------------------------------- plots */

  /* An SVG line plot of series [{name, points: [[step, value]], band: [[step, lo, hi]]}] in a panel;
   * a click opens the nearest step. Each series is one polyline with data-metric and data-points. */
  function plot(id, title, series, opts = {}) {
    const W = 420, H = 190, L = 46, R = 8, T = 8, B = 22;
    const pts = series.flatMap((s) => s.points.concat((s.band || []).flatMap((b) => [[b[0], b[1]], [b[0], b[2]]])));
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (!pts.length) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - R), Y = (y) => H - B - (y - y0) / (y1 - y0) * (H - T - B);
    const g = svg('svg', { class: 'plot', viewBox: `0 0 ${W} ${H}`, 'data-plot': id, preserveAspectRatio: 'none' });
    g.append(svg('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }), svg('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
    for (const [v, y] of [[y0, H - B], [y1, T + 8], [(y0 + y1) / 2, (H - B + T) / 2]]) {
      const t = svg('text', { class: 'tick', x: 2, y }); t.textContent = fmt(v, 3); g.append(t);
    }
    for (const [v, x] of [[x0, L], [x1, W - R - 24]]) {
      const t = svg('text', { class: 'tick', x, y: H - 6 }); t.textContent = String(Math.round(v)); g.append(t);
    }
    series.forEach((s, i) => {
      const c = COLORS[i % COLORS.length];
      if (s.band && s.band.length) {
        const up = s.band.map((b) => `${X(b[0])},${Y(b[2])}`), down = s.band.slice().reverse().map((b) => `${X(b[0])},${Y(b[1])}`);
        g.append(svg('polygon', { class: 'band', fill: c, points: up.concat(down).join(' '), 'data-band': s.name }));
      }
      g.append(svg('polyline', { class: 'series', stroke: c, 'data-metric': s.name, 'data-points': s.points.length,
        points: s.points.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ') }));
      if (s.points.length <= 60) for (const p of s.points) g.append(svg('circle', { class: 'dot', fill: c, r: 2.2, cx: X(p[0]), cy: Y(p[1]) }));
    });
    const steps = [...new Set(xs)].sort((a, b) => a - b);
    g.addEventListener('click', (ev) => {
      if (!steps.length || opts.noClick) return;
      const box = g.getBoundingClientRect();
      const x = x0 + ((ev.clientX - box.left) / box.width * W - L) / (W - L - R) * (x1 - x0);
      let best = steps[0];
      for (const s of steps) if (Math.abs(s - x) < Math.abs(best - x)) best = s;
      location.hash = '#/step/' + best;
    });
    const legend = el('div', { class: 'legend' }, series.map((s, i) => { const e = el('span', {}, s.name); e.style.setProperty('--c', COLORS[i % COLORS.length]); return e; }));
    return el('div', { class: 'panel', 'data-panel': id }, el('h3', {}, title), g, legend);
  }

  /* Points [step, value] of the steps where get(step) is a finite number. */
  const pointsOf = (steps, get) => steps.map((s) => [s.step, get(s)]).filter((p) => typeof p[1] === 'number' && Number.isFinite(p[1]));

  /* The overview's plots: one table, one plot per entry, one series per metric. */
  function plotSpecs(run) {
    const col = (name) => ({ name, get: (s) => s[name] });
    return [
      { id: 'reward', title: 'Reward (mean ± std)', series: [{ name: 'reward_mean', get: (s) => s.reward_mean, band: (s) => s.reward_std }] },
      { id: 'components', title: 'Reward per component (mean ± std)', series: run.components.map((c) => ({ name: c,
        get: (s) => s.components && s.components[c] ? s.components[c].mean : null,
        band: (s) => s.components && s.components[c] ? s.components[c].std : null })) },
      { id: 'accuracy', title: 'Accuracy', series: [col('accuracy')] },
      { id: 'length', title: 'Completion length (tokens)', series: [col('completion_len_mean'), col('completion_len_max')] },
      { id: 'truncation', title: 'Truncated share', series: [col('truncated_frac')] },
      { id: 'kl', title: 'KL to the reference', series: [col('kl')] },
      { id: 'entropy', title: 'Entropy', series: [col('entropy')] },
      { id: 'clip', title: 'Clip fractions', series: [col('clip_frac_low'), col('clip_frac_high')] },
      { id: 'zero_std', title: 'Zero-std groups', series: [col('zero_std_frac')] },
      { id: 'tokens_per_s', title: 'Tokens/s', series: [col('tokens_per_s_sampling'), col('tokens_per_s_training')] },
    ];
  }

  /* Eval series: one per (name, split, metric). */
  function evalSeries(evals) {
    const by = new Map();
    for (const e of evals) {
      const k = `${e.name}/${e.split}/${e.metric}`;
      if (!by.has(k)) by.set(k, []);
      if (typeof e.value === 'number') by.get(k).push([e.step, e.value]);
    }
    return [...by.entries()].map(([name, points]) => ({ name, points: points.sort((a, b) => a[0] - b[0]) }));
  }

  /* ---------------------------------------------------------------- overview */

  let pollTimer = null;

  async function allSteps(after) {
    let out = [], more = true;
    while (more) {
      const r = await api('steps?after=' + after + '&limit=5000');
      out = out.concat(r.steps); more = r.more; after = r.last;
    }
    return out;
  }

  async function overview() {
    const run = await api('run');
    let steps = await allSteps(-2);
    const evals = (await api('evals?limit=5000')).evals;
    const info = el('div', { class: 'panel', id: 'runinfo' });
    const plots = el('div', { class: 'grid', id: 'plots' });
    clear(main);
    main.append(el('h1', {}, 'Run ', run.name), info, el('h2', {}, 'Per step (click a point to open the step)'), plots);
    function draw() {
      clear(info); clear(plots);
      const max = run.config && run.config.max_steps, last = steps.length ? steps[steps.length - 1].step : null;
      info.append(el('div', {}, `kind ${run.kind} · schema v${run.schema_version} · ${steps.length} steps stored · last step `, last === null ? '–' : String(last),
        max ? ` of ${max}` : '', ` · ${run.rollouts} rollouts · created ${run.created_at}`));
      if (max && last !== null) { const bar = el('div', { class: 'progress' }, el('div', {})); bar.firstChild.style.width = Math.min(100, 100 * last / max) + '%'; info.append(bar); }
      const cfg = el('table', { class: 'kv' });
      for (const [k, v] of Object.entries(run.config || {})) cfg.append(el('tr', {}, el('th', {}, k), el('td', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))));
      info.append(el('details', {}, el('summary', {}, 'config'), cfg));
      for (const spec of plotSpecs(run)) {
        const series = spec.series.map((s) => ({ name: s.name, points: pointsOf(steps, s.get),
          band: s.band ? steps.filter((x) => Number.isFinite(s.get(x)) && Number.isFinite(s.band(x))).map((x) => [x.step, s.get(x) - s.band(x), s.get(x) + s.band(x)]) : null }));
        plots.append(plot(spec.id, spec.title, series));
      }
      plots.append(plot('evals', 'Evaluations', evalSeries(evals)));
    }
    draw();
    /* how many steps the first draw had, and how many are drawn now (the live test reads both) */
    document.body.setAttribute('data-steps-loaded', steps.length);
    document.body.setAttribute('data-steps-shown', steps.length);
    if (!REPORT) {
      pollTimer = setInterval(async () => {
        try {
          const after = steps.length ? steps[steps.length - 1].step : -2;
          const r = await api('steps?after=' + after + '&limit=5000');
          if (r.steps.length) {
            steps = steps.concat(r.steps);
            const ev = await api('evals?limit=5000');
            evals.splice(0, evals.length, ...ev.evals);
            run.rollouts = (await api('run')).rollouts;
            draw();
            document.body.setAttribute('data-steps-shown', steps.length);
          }
        } catch (e) { /* the next poll tries again */ }
      }, 1000);
    }
  }

  /* ---------------------------------------------------------------- one completion */

  /* The completion's text, shaded per token by its logprob when token texts are known. */
  function completionText(r) {
    const box = el('div', { class: 'text' });
    /* the tokens only when they spell the stored completion exactly (a token cut inside a UTF-8
     * character, or a text edited after sampling, shows the stored text instead) */
    if (Array.isArray(r.tokens) && Array.isArray(r.logprobs) && r.tokens.length === r.logprobs.length &&
        r.tokens.join('') === (r.completion_text || '')) {
      r.tokens.forEach((t, i) => {
        const lp = r.logprobs[i], span = el('span', { class: 'tok', title: 'logprob ' + fmt(lp, 3) }, t);
        if (typeof lp === 'number') span.style.backgroundColor = `rgba(214, 69, 65, ${Math.min(0.85, -lp / 6).toFixed(3)})`;
        box.append(span);
      });
    } else {
      box.append(r.completion_text || '');
    }
    return box;
  }

  function card(r, gold) {
    /* right: the accuracy reward's verdict when there is one, else the two texts being equal */
    const acc = (r.components || []).find((c) => c.name === 'accuracy');
    const ok = acc ? acc.value >= 1 : (r.extracted_answer !== null && r.extracted_answer !== undefined && gold !== null && gold !== undefined && String(gold).trim() === String(r.extracted_answer).trim());
    const comps = el('ul', {}, (r.components || []).map((c) => el('li', { 'data-component': c.name }, `${c.name} ${fmt(c.value, 2)}`, c.reason ? ' — ' : '', c.reason || '')));
    return el('div', { class: 'completion', 'data-prompt': r.prompt_id, 'data-sample': r.sample_index, 'data-reward': r.reward_total },
      el('div', { class: 'head' }, `#${r.sample_index} · total ${fmt(r.reward_total, 3)} · adv ${fmt(r.advantage, 3)} · ${r.length} tok · ${r.finish_reason}`),
      el('div', { class: 'answer ' + (ok ? 'ok' : 'bad') }, 'answer ', r.extracted_answer === null || r.extracted_answer === undefined ? '(none)' : r.extracted_answer, ' vs gold ', gold === null || gold === undefined ? '(unknown)' : gold),
      comps, completionText(r));
  }

  /* ---------------------------------------------------------------- step view */

  async function stepView(step, params) {
    const sort = params.get('sort') || 'index', page = Number(params.get('page') || 0), per = 256;
    const r = await api(`rollouts?step=${step}&offset=${page * per}&limit=${per}`);
    clear(main);
    const sel = el('select', { id: 'sort', onchange: () => { location.hash = `#/step/${step}?sort=${sel.value}`; } },
      ['index', 'best', 'worst'].map((s) => { const o = el('option', { value: s }, s === 'index' ? 'sample order' : s + ' first'); if (s === sort) o.selected = true; return o; }));
    main.append(el('h1', {}, `Step ${step}`),
      el('div', { class: 'controls' }, link(`step/${step - 1}`, '← previous'), link(`step/${step + 1}`, 'next →'), el('label', {}, 'sort within a group', sel),
        el('span', { class: 'muted' }, `${r.total} completions; showing ${r.offset + 1}–${r.offset + r.rollouts.length}`)));
    const groups = new Map();
    for (const ro of r.rollouts) { if (!groups.has(ro.prompt_id)) groups.set(ro.prompt_id, []); groups.get(ro.prompt_id).push(ro); }
    for (const [pid, rows] of groups) {
      const p = (r.prompts && r.prompts[String(pid)]) || {};
      if (sort === 'best') rows.sort((a, b) => b.reward_total - a.reward_total);
      if (sort === 'worst') rows.sort((a, b) => a.reward_total - b.reward_total);
      const mean = rows.reduce((a, x) => a + x.reward_total, 0) / rows.length;
      main.append(el('section', { class: 'group', 'data-prompt': pid },
        el('h2', {}, `Prompt ${pid} · mean reward ${fmt(mean, 3)} · `, link(`prompt/${pid}`, 'history')),
        el('div', { class: 'prompt' }, p.prompt_text || ''), el('div', { class: 'muted' }, 'gold: ', p.gold_answer === null || p.gold_answer === undefined ? '(unknown)' : p.gold_answer),
        el('div', { class: 'cards' }, rows.map((x) => card(x, p.gold_answer)))));
    }
    const nav = el('div', { class: 'controls' });
    if (page > 0) nav.append(link(`step/${step}?sort=${sort}&page=${page - 1}`, '← previous page'));
    if (r.offset + r.rollouts.length < r.total) nav.append(link(`step/${step}?sort=${sort}&page=${page + 1}`, 'next page →'));
    main.append(nav);
  }

  /* ---------------------------------------------------------------- prompt history */

  async function promptView(id, params) {
    const page = Number(params.get('page') || 0), per = 128;
    const r = await api(`prompt/${id}?offset=${page * per}&limit=${per}`);
    const p = (r.prompts && r.prompts[String(id)]) || {};
    clear(main);
    main.append(el('h1', {}, `Prompt ${id} across steps`), el('div', { class: 'prompt' }, p.prompt_text || ''),
      el('div', { class: 'muted' }, 'gold: ', p.gold_answer === null || p.gold_answer === undefined ? '(unknown)' : p.gold_answer),
      el('div', { class: 'grid' }, plot('prompt_reward', 'This prompt’s reward per step', [
        { name: 'reward_mean', points: r.steps.map((s) => [s.step, s.reward_mean]) },
        { name: 'reward_max', points: r.steps.map((s) => [s.step, s.reward_max]) },
        { name: 'reward_min', points: r.steps.map((s) => [s.step, s.reward_min]) }])));
    let cur = null, cards = null;
    for (const ro of r.rollouts) {
      if (ro.step !== cur) { cur = ro.step; cards = el('div', { class: 'cards' }); main.append(el('h2', {}, link(`step/${cur}`, `Step ${cur}`)), cards); }
      cards.append(card(ro, p.gold_answer));
    }
    const nav = el('div', { class: 'controls' });
    if (page > 0) nav.append(link(`prompt/${id}?page=${page - 1}`, '← previous page'));
    if (r.offset + r.rollouts.length < r.total) nav.append(link(`prompt/${id}?page=${page + 1}`, 'next page →'));
    main.append(nav);
  }

  /* ---------------------------------------------------------------- search */

  const SEARCH_KEYS = ['q', 'min_reward', 'max_reward', 'component', 'component_min', 'component_max', 'finish', 'step_min', 'step_max'];

  async function searchView(params) {
    const run = await api('run');
    clear(main);
    const inputs = {};
    const field = (k, label, node) => { inputs[k] = node; if (params.get(k)) node.value = params.get(k); return el('label', {}, label, node); };
    const form = el('form', { class: 'controls', id: 'search-form', onsubmit: (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      for (const k of SEARCH_KEYS) if (inputs[k].value !== '') p.set(k, inputs[k].value);
      location.hash = '#/search?' + p.toString();
    } },
    field('q', 'text', el('input', { type: 'search', id: 'q', size: 28 })),
    field('min_reward', 'reward ≥', el('input', { size: 5 })), field('max_reward', 'reward ≤', el('input', { size: 5 })),
    field('component', 'component', el('select', {}, el('option', { value: '' }, 'any'), run.components.map((c) => el('option', { value: c }, c)))),
    field('component_min', 'component ≥', el('input', { size: 5 })), field('component_max', 'component ≤', el('input', { size: 5 })),
    field('finish', 'finish', el('select', {}, el('option', { value: '' }, 'any'), el('option', { value: 'stop' }, 'stop'), el('option', { value: 'length' }, 'length'))),
    field('step_min', 'step ≥', el('input', { size: 5 })), field('step_max', 'step ≤', el('input', { size: 5 })),
    el('button', { type: 'submit' }, 'Search'));
    main.append(el('h1', {}, 'Search completions'), form);
    if (![...params.keys()].some((k) => SEARCH_KEYS.includes(k))) return;
    /* the API pages by cursor: `after` (the last rollout id seen) and `from` (how many matches came before) */
    const after = Number(params.get('after') || 0), from = Number(params.get('from') || 0), per = 50;
    const q = new URLSearchParams();
    for (const k of SEARCH_KEYS) if (params.get(k)) q.set(k, params.get(k));
    q.set('after', after); q.set('limit', per);
    const r = await api('search?' + q.toString());
    const list = el('div', { id: 'results' }), n = r.rollouts.length;
    const count = n ? `matches ${from + 1}–${from + n}` + (r.more ? ', more may follow' : ` of ${from + n}`)
      : r.more ? 'no matches on this page' : from ? `no more matches (${from} in all)` : 'no matches';
    const reach = r.more && n < per && r.scanned_to_step !== null ? ` (this page searched ${r.scanned} completions, through step ${r.scanned_to_step})` : '';
    main.append(el('p', { class: 'muted', id: 'result-count' }, count + reach), list);
    for (const x of r.rollouts) {
      const sn = x.snippet || ['', '', ''];
      list.append(el('div', { class: 'result', 'data-step': x.step, 'data-prompt': x.prompt_id, 'data-sample': x.sample_index },
        el('div', {}, link(`step/${x.step}`, `step ${x.step}`), ' · ', link(`prompt/${x.prompt_id}`, `prompt ${x.prompt_id}`),
          ` · #${x.sample_index} · reward ${fmt(x.reward_total, 3)} · ${x.finish_reason} · answer `, x.extracted_answer === null || x.extracted_answer === undefined ? '(none)' : x.extracted_answer),
        el('div', { class: 'text' }, sn[0], el('mark', {}, sn[1]), sn[2])));
    }
    const nav = el('div', { class: 'controls' }), base = new URLSearchParams(q); base.delete('limit');
    if (after > 0) nav.append(el('button', { type: 'button', onclick: () => history.back() }, '← previous page'));
    if (r.more) {
      base.set('after', r.next); base.set('from', from + n);
      nav.append(el('a', { href: '#/search?' + base.toString(), id: 'search-next' }, n < per ? 'search further →' : 'next page →'));
    }
    main.append(nav);
  }

  /* ---------------------------------------------------------------- evaluations */

  async function evalsView() {
    const r = await api('evals?limit=5000');
    clear(main);
    main.append(el('h1', {}, 'Evaluations'), el('div', { class: 'grid' }, plot('evals', 'Evaluations per step', evalSeries(r.evals))));
    const t = el('table', { class: 'kv', id: 'evals-table' }, el('tr', {}, ['step', 'name', 'split', 'metric', 'value', 'n'].map((h) => el('th', {}, h))));
    for (const e of r.evals) t.append(el('tr', {}, [e.step, e.name, e.split, e.metric, fmt(e.value, 4), e.n].map((v) => el('td', {}, v === null ? '–' : String(v)))));
    main.append(t);
  }

  /* ---------------------------------------------------------------- routing */

  function nav(here, runName) {
    const n = document.getElementById('nav');
    clear(n);
    const item = (hash, label, key) => el('a', { href: '#/' + hash, class: here === key ? 'here' : '' }, label);
    n.append(el('strong', {}, 'grpo view'), item('', 'Overview', 'overview'), item('search', 'Search', 'search'), item('evals', 'Evaluations', 'evals'),
      el('span', { class: 'run' }, runName || ''));
  }

  async function route() {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    const h = location.hash.replace(/^#\/?/, '');
    const [path, qs] = h.split('?');
    const params = new URLSearchParams(qs || '');
    const parts = path.split('/');
    const here = parts[0] || 'overview';
    try {
      const run = await api('run');
      nav(here, run.name);
      if (REPORT) {
        const b = document.getElementById('banner'); clear(b);
        b.append(`Report of run ${run.name}, made ${REPORT.cap.made_at}: it holds ${REPORT.cap.included} of ${REPORT.cap.total} rollouts`,
          REPORT.cap.included < REPORT.cap.total ? ` (capped by --max-rollouts ${REPORT.cap.max_rollouts}: steps ${REPORT.cap.steps.join(', ')})` : ' (all of them)', '; every step’s metrics are here.');
      }
      if (here === 'overview') await overview();
      else if (here === 'step' && /^-?\d+$/.test(parts[1] || '')) await stepView(Number(parts[1]), params);
      else if (here === 'prompt' && /^\d+$/.test(parts[1] || '')) await promptView(Number(parts[1]), params);
      else if (here === 'search') await searchView(params);
      else if (here === 'evals') await evalsView();
      else { clear(main); main.append(el('p', { class: 'error' }, 'No such page.')); }
      document.body.setAttribute('data-ready', here);
    } catch (e) {
      clear(main);
      main.append(el('p', { class: 'error', id: 'error' }, e.message));
      document.body.setAttribute('data-ready', 'error');
    }
  }

  window.addEventListener('hashchange', route);
  route();
})();
