// The self-service page of pulumi-auto-server: plain JavaScript, no build step.
//
// Every value that comes from the server is written with textContent (never as HTML).
// The token lives in this tab's sessionStorage and goes in the Authorization header only.
'use strict';

(function () {
  const TOKEN_KEY = 'pulumi-auto-token';
  const main = document.getElementById('main');
  let current = null; // the view's cleanup (an open event stream), if any
  let nextNotice = ''; // shown by the next view

  // ---- small helpers --------------------------------------------------------------

  // el('tag', {attr: value, class: 'x'}, child, 'text', …): text children are text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (v === true) node.setAttribute(k, '');
      else node.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function showError(message) {
    const box = document.getElementById('error');
    box.textContent = message;
    box.hidden = !message;
    if (message) box.scrollIntoView({ block: 'nearest' });
  }

  function showNotice(message) {
    const box = document.getElementById('notice');
    box.textContent = message || '';
    box.hidden = !message;
  }

  // A time of the API: Unix milliseconds (or text).
  function when(t) {
    if (!t) return '';
    const d = new Date(t);
    return isNaN(d) ? String(t) : d.toLocaleString();
  }

  function changes(summary) {
    const rc = summary && summary.resourceChanges;
    if (!rc) return '';
    return Object.entries(rc).map(([k, v]) => `${v} ${k}`).join(', ');
  }

  const enc = encodeURIComponent;

  // An API error: the server's {code, message}, else the HTTP status.
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const headers = { 'Authorization': 'token ' + (token() || '') };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'The server cannot be reached (' + e.message + ')');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!res.ok) {
      const msg = (data && data.message) || `${res.status} ${res.statusText}`;
      if (res.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
      }
      throw new ApiError(res.status, msg);
    }
    return data;
  }

  // ---- the events stream: fetch() and a reader (EventSource cannot send a header) -----

  // Calls onEvent({id, event, data}) for each event until the stream's final `status`
  // event; reconnects with Last-Event-ID when the connection drops. Returns {stop}.
  function streamEvents(path, onEvent, onEnd) {
    const ctl = new AbortController();
    let last = null;
    let ended = false;
    let tries = 0;
    async function run() {
      while (!ended && !ctl.signal.aborted) {
        const headers = { 'Authorization': 'token ' + (token() || ''), 'Accept': 'text/event-stream' };
        if (last !== null) headers['Last-Event-ID'] = String(last);
        try {
          const res = await fetch(path, { headers, signal: ctl.signal, cache: 'no-store' });
          if (!res.ok) {
            let msg = `${res.status} ${res.statusText}`;
            try { msg = (await res.json()).message || msg; } catch (_) { /* not JSON */ }
            ended = true;
            onEnd({ status: 'unknown', error: msg });
            return;
          }
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buf = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            tries = 0;
            buf += value.replace(/\r\n?/g, '\n');
            let cut;
            while ((cut = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, cut);
              buf = buf.slice(cut + 2);
              const ev = { id: null, event: 'message', data: '' };
              let any = false;
              for (const line of block.split('\n')) {
                if (!line || line.startsWith(':')) continue;
                any = true;
                const i = line.indexOf(':');
                const field = i < 0 ? line : line.slice(0, i);
                let val = i < 0 ? '' : line.slice(i + 1);
                if (val.startsWith(' ')) val = val.slice(1);
                if (field === 'id') ev.id = val;
                else if (field === 'event') ev.event = val;
                else if (field === 'data') ev.data = ev.data ? ev.data + '\n' + val : val;
              }
              if (!any) continue;
              if (ev.id !== null) last = ev.id;
              if (ev.event === 'status') {
                ended = true;
                let st = {};
                try { st = JSON.parse(ev.data); } catch (_) { st = { status: ev.data }; }
                onEnd(st);
                ctl.abort();
                return;
              }
              onEvent(ev);
            }
          }
        } catch (e) {
          if (ctl.signal.aborted) return;
        }
        // Dropped before the end: resume after the last event seen.
        tries += 1;
        if (tries > 20) {
          ended = true;
          onEnd({ status: 'unknown', error: 'the events stream kept failing; reload the page' });
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(5000, 300 * tries)));
      }
    }
    run();
    return { stop: () => { ended = true; ctl.abort(); } };
  }

  // One line of text for an engine event.
  function describe(kind, data) {
    let e = {};
    try { e = JSON.parse(data); } catch (_) { return kind; }
    const p = e[kind] || {};
    const md = p.metadata || {};
    const name = (urn) => (urn ? String(urn).split('::').pop() : '');
    switch (kind) {
      case 'preludeEvent': return 'Starting…';
      case 'resourcePreEvent': return `${md.op || 'step'} ${md.type || ''} ${name(md.urn)} …`;
      case 'resOutputsEvent': return `${md.op || 'step'} ${md.type || ''} ${name(md.urn)} done`;
      case 'resOpFailedEvent': return `${md.op || 'step'} ${name(md.urn)} failed`;
      case 'diagnosticEvent': return `${p.severity || 'info'}: ${(p.message || '').trim()}`;
      case 'stdoutEvent': return (p.message || '').trim();
      case 'summaryEvent': return `Summary: ${changes({ resourceChanges: p.resourceChanges }) || 'no changes'}`;
      case 'policyEvent': return `policy ${p.policyName || ''}: ${(p.message || '').trim()}`;
      case 'errorEvent': return `error: ${(p.error || '').trim()}`;
      case 'cancelEvent': return 'Engine finished';
      default: return kind;
    }
  }

  // ---- views ------------------------------------------------------------------------

  function setView(...nodes) {
    if (current) { current(); current = null; }
    main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
  }

  function signInView(reason) {
    document.getElementById('nav').hidden = true;
    const input = el('input', {
      id: 'token', type: 'password', autocomplete: 'off', required: true,
      spellcheck: 'false', 'aria-describedby': 'token-help',
    });
    const button = el('button', { type: 'submit', id: 'signin', class: 'primary' }, 'Sign in');
    const form = el('form', { id: 'signin-form', class: 'card narrow' },
      el('h2', {}, 'Sign in'),
      el('label', { for: 'token' }, 'Access token'),
      input,
      el('p', { id: 'token-help', class: 'hint' },
        'A token of this server: the admin token (in the data directory\'s admin-token file) ',
        'or one made with "pulumi-auto-server token create". It is kept in this tab only ',
        'and sent in the Authorization header.'),
      button);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      showError('');
      button.disabled = true;
      button.textContent = 'Signing in…';
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      try {
        await api('GET', '/api/user');
        input.value = '';
        who();
        go('#/');
      } catch (e) {
        sessionStorage.removeItem(TOKEN_KEY);
        showError(e.status === 401 ? 'Sign-in failed: ' + e.message : e.message);
        button.disabled = false;
        button.textContent = 'Sign in';
      }
    });
    setView(form);
    if (reason) showError(reason);
    input.focus();
  }

  async function stacksView() {
    const status = el('p', { class: 'hint', id: 'stacks-status' }, 'Loading…');
    setView(el('h2', {}, 'Stacks'), status);
    let programs;
    try {
      programs = (await api('GET', '/api/programs')).programs || [];
    } catch (e) {
      if (e.status === 503) {
        status.textContent = e.message + ' (this page tries again in a few seconds)';
        const t = setTimeout(() => { if (location.hash === '#/' || !location.hash) stacksView(); }, 3000);
        current = () => clearTimeout(t);
        return;
      }
      throw e;
    }
    const rows = [];
    for (const p of programs) {
      const list = (await api('GET', `/api/programs/${enc(p.name)}/stacks`)).stacks || [];
      for (const s of list) rows.push({ program: p.name, name: s.name, last: s.lastUpdate });
    }

    const nameFilter = el('input', { id: 'filter-name', type: 'search', placeholder: 'Stack name contains…' });
    const progFilter = el('select', { id: 'filter-program' },
      el('option', { value: '' }, 'All programs'),
      programs.map((p) => el('option', { value: p.name }, p.name)));
    const statusFilter = el('select', { id: 'filter-status' },
      el('option', { value: '' }, 'Any status'),
      ['succeeded', 'failed', 'running', 'cancelled', 'refused', 'never run']
        .map((s) => el('option', { value: s }, s)));
    const tbody = el('tbody', {});
    const table = el('table', { id: 'stacks' },
      el('thead', {}, el('tr', {},
        ['Program', 'Stack', 'Last operation', 'Status', 'Finished'].map((h) => el('th', {}, h)))),
      tbody);
    const empty = el('p', { class: 'hint', id: 'stacks-empty' });

    function render() {
      const q = nameFilter.value.trim().toLowerCase();
      const shown = rows.filter((r) => {
        const st = r.last ? r.last.status : 'never run';
        return (!q || r.name.toLowerCase().includes(q))
          && (!progFilter.value || r.program === progFilter.value)
          && (!statusFilter.value || st === statusFilter.value);
      });
      tbody.replaceChildren(...shown.map((r) => {
        const st = r.last ? r.last.status : 'never run';
        return el('tr', { 'data-stack': r.name, 'data-program': r.program },
          el('td', {}, r.program),
          el('td', {}, el('a', { href: `#/stack/${enc(r.program)}/${enc(r.name)}` }, r.name)),
          el('td', {}, r.last ? r.last.kind : '—'),
          el('td', {}, el('span', { class: 'status ' + st.replace(' ', '-') }, st)),
          el('td', {}, r.last ? when(r.last.ended || r.last.started) : ''));
      }));
      empty.textContent = rows.length === 0
        ? 'No stacks yet: create one of a program below.'
        : (shown.length === 0 ? 'No stack matches these filters.' : '');
      table.hidden = shown.length === 0;
    }
    for (const f of [nameFilter, progFilter, statusFilter]) f.addEventListener('input', render);
    render();

    const progList = el('ul', { class: 'programs', id: 'programs' },
      programs.map((p) => el('li', {},
        el('strong', {}, p.name),
        p.project !== p.name ? el('span', { class: 'hint' }, ` (project ${p.project})`) : null,
        ' ',
        el('a', { class: 'button', href: `#/new/${enc(p.name)}`, id: `new-${p.name}` }, `New stack of ${p.name}`))));

    setView(
      el('h2', {}, 'Stacks'),
      el('div', { class: 'filters' },
        el('label', {}, 'Name ', nameFilter),
        el('label', {}, 'Program ', progFilter),
        el('label', {}, 'Status ', statusFilter),
        el('button', { type: 'button', onclick: () => stacksView() }, 'Reload')),
      table, empty,
      el('h2', {}, 'Programs'),
      programs.length ? progList : el('p', { class: 'hint' }, 'This server serves no programs.'));
  }

  async function newStackView(program) {
    setView(el('h2', {}, `New stack of ${program}`), el('p', { class: 'hint' }, 'Loading…'));
    const info = await api('GET', `/api/programs/${enc(program)}`);
    const schema = info.config || [];
    const nameInput = el('input', {
      id: 'stack-name', name: 'stack', required: true, autocomplete: 'off',
      pattern: '[A-Za-z0-9_.\\-]{1,100}', title: 'Letters, digits, "-", "_" and "." (up to 100)',
    });
    const fields = [];
    const inputs = [
      el('label', { for: 'stack-name' }, 'Stack name'),
      nameInput,
      el('p', { class: 'hint' }, 'Letters, digits, "-", "_" and "." (up to 100); existing stacks: ',
        (info.stacks || []).length ? info.stacks.join(', ') : 'none'),
    ];
    for (const t of schema) {
      const key = t.key;
      const type = t.type || 'string';
      const id = 'cfg-' + key.replace(/[^A-Za-z0-9_-]/g, '_');
      const hasDefault = t.default !== undefined && t.default !== null;
      let input;
      if (type === 'boolean') {
        input = el('input', { id, type: 'checkbox', checked: hasDefault && t.default === true });
      } else {
        input = el('input', {
          id,
          type: t.secret ? 'password' : (type === 'integer' ? 'number' : 'text'),
          step: type === 'integer' ? '1' : null,
          autocomplete: t.secret ? 'new-password' : 'off',
          required: !hasDefault,
          placeholder: hasDefault ? 'default: ' + (typeof t.default === 'string' ? t.default : JSON.stringify(t.default)) : null,
        });
      }
      fields.push({ key, type, secret: !!t.secret, input, hasDefault });
      inputs.push(el('label', { for: id }, key,
        t.secret ? el('span', { class: 'tag' }, 'secret') : null,
        !hasDefault && type !== 'boolean' ? el('span', { class: 'tag' }, 'required') : null));
      inputs.push(input);
      const hint = [t.description || '', type === 'array' ? ' (a JSON list)' : ''].join('');
      if (hint) inputs.push(el('p', { class: 'hint' }, hint));
    }
    if (schema.length === 0) {
      inputs.push(el('p', { class: 'hint' }, 'This program declares no config.'));
    }
    const protect = el('input', { id: 'protected', type: 'checkbox' });
    const button = el('button', { type: 'submit', id: 'create', class: 'primary' }, 'Create stack');
    const form = el('form', { id: 'create-form', class: 'card' },
      inputs,
      el('label', { class: 'check' }, protect, ' Protected (a destroy then needs an explicit override)'),
      el('div', { class: 'actions' }, button, el('a', { href: '#/' }, 'Cancel')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      showError('');
      const config = {};
      for (const f of fields) {
        let v;
        if (f.type === 'boolean') {
          if (!f.input.checked && !f.hasDefault) continue;
          v = f.input.checked;
        } else {
          v = f.input.value;
          if (v === '') continue; // the declared default applies
          if (f.type === 'integer') v = Number(v);
        }
        config[f.key] = f.secret ? { value: String(v), secret: true } : v;
      }
      const stack = nameInput.value.trim();
      button.disabled = true;
      button.textContent = 'Creating…';
      try {
        await api('PUT', `/api/programs/${enc(program)}/stacks/${enc(stack)}`,
          { config, protected: protect.checked || undefined });
        for (const f of fields) if (f.secret) f.input.value = '';
        go(`#/stack/${enc(program)}/${enc(stack)}`, `Stack ${stack} created. Run an update to deploy it.`);
      } catch (e) {
        showError('The stack was not created: ' + e.message);
        button.disabled = false;
        button.textContent = 'Create stack';
      }
    });
    setView(el('h2', {}, `New stack of ${program}`),
      info.description ? el('p', {}, info.description) : null, form);
    nameInput.focus();
  }

  async function stackView(program, stack) {
    const base = `/api/programs/${enc(program)}/stacks/${enc(stack)}`;
    const opStatus = el('p', { id: 'op-status', class: 'hint' }, 'No operation running.');
    const events = el('ol', { id: 'events', class: 'events' });
    const showDebug = el('input', { id: 'show-debug', type: 'checkbox' });
    showDebug.addEventListener('change', () => events.classList.toggle('show-debug', showDebug.checked));
    const outputs = el('tbody', {});
    const history = el('tbody', {});
    const destroyBox = el('div', { id: 'destroy-panel', class: 'card danger-zone', hidden: true });
    const buttons = {};
    let stream = null;

    function busy(on) {
      for (const b of Object.values(buttons)) b.disabled = on;
    }

    async function refresh() {
      const st = await api('GET', base);
      const outs = Object.entries(st.outputs || {});
      outputs.replaceChildren(...(outs.length ? outs.map(([k, o]) => {
        const secret = o && o.secret;
        const v = o && Object.prototype.hasOwnProperty.call(o, 'value') ? o.value : o;
        return el('tr', { 'data-output': k },
          el('td', {}, k),
          el('td', { class: secret ? 'secret' : 'mono' },
            secret ? '[secret]' : (typeof v === 'string' ? v : JSON.stringify(v))));
      }) : [el('tr', {}, el('td', { colspan: 2, class: 'hint' }, 'No outputs yet (run an update).'))]));
      const h = (await api('GET', `${base}/updates`)).updates || [];
      history.replaceChildren(...h.map((u) => el('tr', { 'data-update': u.id },
        el('td', {}, u.kind),
        el('td', {}, el('span', { class: 'status ' + u.status }, u.status)),
        el('td', {}, u.requestedBy || ''),
        el('td', {}, when(u.started || u.created)),
        el('td', {}, when(u.ended)),
        el('td', {}, changes(u.summary) || (u.error ? u.error : '')),
        el('td', {}, ['update', 'preview', 'refresh', 'destroy', 'destroy-preview'].includes(u.kind)
          ? el('button', { type: 'button', class: 'link', onclick: () => watch(u.id, u.kind, true) }, 'Events')
          : ''))));
      return st;
    }

    function watch(id, kind, replay) {
      if (stream) stream.stop();
      events.replaceChildren();
      opStatus.textContent = replay ? `Events of ${kind} ${id}:` : `${kind} ${id} running…`;
      opStatus.className = 'status-line running';
      if (!replay) busy(true);
      return new Promise((resolve) => {
        stream = streamEvents(`${base}/updates/${enc(id)}/events/stream`, (ev) => {
          let debug = false;
          if (ev.event === 'diagnosticEvent') {
            try { debug = JSON.parse(ev.data).diagnosticEvent.severity === 'debug'; } catch (_) { debug = false; }
          }
          const line = el('li', { class: 'ev ' + ev.event + (debug ? ' debug' : ''), 'data-kind': ev.event },
            describe(ev.event, ev.data));
          events.append(line);
          events.scrollTop = events.scrollHeight;
        }, (end) => {
          stream = null;
          busy(false);
          opStatus.textContent = `${kind} ${id}: ${end.status}` + (end.error ? ` (${end.error})` : '');
          opStatus.className = 'status-line ' + end.status;
          opStatus.setAttribute('data-status', end.status);
          resolve(end);
        });
      });
    }

    async function start(kind) {
      showError('');
      showNotice('');
      busy(true);
      try {
        const r = await api('POST', `${base}/${kind}`, {});
        await watch(r.updateId, kind, false);
        await refresh();
      } catch (e) {
        busy(false);
        showError(`The ${kind} did not start: ` + e.message);
      }
    }

    async function destroyPreview() {
      showError('');
      showNotice('');
      destroyBox.hidden = false;
      destroyBox.replaceChildren(el('h3', {}, 'Destroy'), el('p', { class: 'hint' }, 'Previewing what a destroy would delete…'));
      busy(true);
      let plan;
      try {
        plan = await api('POST', `${base}/destroy-preview`);
      } catch (e) {
        busy(false);
        destroyBox.hidden = true;
        showError('The destroy preview failed: ' + e.message);
        return;
      }
      busy(false);
      const dels = plan.deletions || [];
      const confirm = el('input', { id: 'destroy-confirm', autocomplete: 'off', spellcheck: 'false', required: true });
      const remove = el('input', { id: 'destroy-remove', type: 'checkbox', checked: true });
      const override = el('input', { id: 'destroy-override', type: 'checkbox' });
      const goButton = el('button', { type: 'submit', id: 'destroy-go', class: 'danger' }, 'Destroy');
      const form = el('form', { id: 'destroy-form' },
        el('p', {}, dels.length
          ? `A destroy deletes these ${dels.length} resources of ${stack}:`
          : `${stack} has no resources to delete.`),
        el('ul', { id: 'destroy-deletions', class: 'mono' },
          dels.map((d) => el('li', {}, `${d.op || 'delete'} ${String(d.urn || '').split('::').slice(-2).join(' ')}`))),
        el('label', { for: 'destroy-confirm' }, 'Type the stack\'s name (', el('strong', {}, stack), ') to confirm'),
        confirm,
        el('label', { class: 'check' }, remove, ' Also remove the stack (its history and config)'),
        el('label', { class: 'check' }, override, ' Override the stack\'s protection (only for a protected stack)'),
        el('div', { class: 'actions' }, goButton,
          el('button', { type: 'button', onclick: () => { destroyBox.hidden = true; } }, 'Cancel')),
        el('p', { class: 'hint' }, `This preview is valid for ${Math.round((plan.expiresInSeconds || 900) / 60)} minutes, once.`));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        showError('');
        goButton.disabled = true;
        try {
          const r = await api('POST', `${base}/destroy`, {
            planId: plan.planId, confirm: confirm.value, remove: remove.checked,
            overrideProtection: override.checked,
          });
          destroyBox.hidden = true;
          const end = await watch(r.updateId, 'destroy', false);
          if (end.status === 'succeeded' && remove.checked) {
            go('#/', `Stack ${stack} was destroyed and removed.`);
            return;
          }
          await refresh();
        } catch (e) {
          goButton.disabled = false;
          showError('Not destroyed: ' + e.message);
          if (e.status === 409) destroyBox.hidden = true;
        }
      });
      destroyBox.replaceChildren(el('h3', {}, `Destroy ${stack}`), form);
      confirm.focus();
    }

    buttons.preview = el('button', { type: 'button', id: 'op-preview', onclick: () => start('preview') }, 'Preview');
    buttons.update = el('button', { type: 'button', id: 'op-update', class: 'primary', onclick: () => start('update') }, 'Update');
    buttons.refresh = el('button', { type: 'button', id: 'op-refresh', onclick: () => start('refresh') }, 'Refresh');
    buttons.destroy = el('button', { type: 'button', id: 'op-destroy', class: 'danger', onclick: destroyPreview }, 'Destroy…');

    setView(
      el('h2', {}, el('a', { href: '#/' }, 'Stacks'), ' / ', program, ' / ', el('span', { id: 'stack-title' }, stack)),
      el('div', { class: 'actions' }, Object.values(buttons)),
      destroyBox,
      el('section', {}, el('h3', {}, 'Events'), opStatus,
        el('label', { class: 'check hint' }, showDebug, ' Show debug messages'), events),
      el('section', {}, el('h3', {}, 'Outputs'),
        el('table', { id: 'outputs' }, el('thead', {}, el('tr', {}, el('th', {}, 'Name'), el('th', {}, 'Value'))), outputs)),
      el('section', {}, el('h3', {}, 'History'),
        el('table', { id: 'history' }, el('thead', {}, el('tr', {},
          ['Operation', 'Status', 'By', 'Started', 'Ended', 'Changes', ''].map((h) => el('th', {}, h)))), history)));
    current = () => { if (stream) stream.stop(); };
    const st = await refresh();
    // An operation still running (started elsewhere, or before a reload): watch it.
    const last = st.lastUpdate;
    if (last && (last.status === 'running' || last.status === 'queued')) {
      watch(last.id, last.kind, false).then(refresh);
    }
  }

  // ---- routing ----------------------------------------------------------------------

  // Shows the view of `hash`, with a notice.
  function go(hash, notice) {
    nextNotice = notice || '';
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  async function route() {
    showError('');
    showNotice(nextNotice);
    nextNotice = '';
    if (!token()) { signInView(); return; }
    document.getElementById('nav').hidden = false;
    const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    try {
      if (parts[0] === 'new' && parts[1]) await newStackView(parts[1]);
      else if (parts[0] === 'stack' && parts[1] && parts[2]) await stackView(parts[1], parts[2]);
      else await stacksView();
    } catch (e) {
      if (e.status === 401) { signInView('Your token was refused: ' + e.message); return; }
      showError(e.message);
    }
  }

  async function who() {
    try {
      const u = await api('GET', '/api/user');
      document.getElementById('who').textContent = 'Signed in as ' + (u.githubLogin || u.name || '');
    } catch (_) { /* route() reports it */ }
  }

  document.getElementById('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    document.getElementById('who').textContent = '';
    go('#/', 'Signed out.');
  });
  window.addEventListener('hashchange', () => { route(); });
  if (token()) who();
  route();
})();
