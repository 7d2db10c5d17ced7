/* 头雁 · chat page. Plain JS, no framework, no build step, no external resources.
 *
 * The answer text is streamed from POST /v1/chat/completions (OpenAI server-sent events),
 * sent the whole conversation so that follow-ups keep their context. The structured
 * citations and passages are read from extra fields on any streamed chunk (`citations`,
 * `results`, on the chunk, its choice, its delta or message, or under `touyan`). What the
 * stream did not carry is fetched when it ends: the same conversation unstreamed (its
 * `citations` and `touyan.results`), else POST /ask with the standalone question, else
 * POST /search; a cited passage still missing is found by its quote with POST /search.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };

  var els = {
    status: $('status'), banner: $('banner'), bannerText: $('banner-text'), bannerClose: $('banner-close'),
    tabChat: $('tab-chat'), tabCases: $('tab-cases'), panelChat: $('panel-chat'), panelCases: $('panel-cases'),
    log: $('log'), welcome: $('welcome'), form: $('ask-form'), question: $('question'), send: $('send'),
    newChat: $('new-chat'), formError: $('form-error'), cases: $('cases'), casesSummary: $('cases-summary'),
    drawer: $('drawer'), drawerTitle: $('drawer-title'), drawerBody: $('drawer-body'), drawerClose: $('drawer-close'),
    scrim: $('scrim'), keyForm: $('key-form'), keyInput: $('api-key'), keyLabel: $('key-label'),
    reportPick: $('report-pick'), report: $('report')
  };

  var state = {
    history: [],        // [{role, content}] of finished turns, sent whole with every question
    turns: [],          // every asked turn (also failed ones), for the citation drawer
    busy: false,
    controller: null,   // AbortController of the running request
    casesLoaded: false,
    stick: true,        // keep the conversation scrolled to its end
    casesLoading: false,
    healthTimer: null,
    drawerFor: null,    // {turn, n} or null
    lastFocus: null
  };

  var KIND_LABEL = { body: '正文', commentary: '专家点评', preface: '序言', contents: '目录' };

  // ---------------------------------------------------------------- small helpers

  function h(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') node.textContent = v;
        else if (k === 'class') node.className = v;
        else if (k.slice(0, 2) === 'on') node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : v);
      });
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(node) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); continue; }
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
  }

  function pageLabel(page) {
    return (page === null || page === undefined || page === '') ? '序言/无版面' : '第' + page + '版';
  }

  function isNum(x) { return typeof x === 'number' && isFinite(x); }

  // ---------------------------------------------------------------- errors

  function NetworkError(message) { this.name = 'NetworkError'; this.message = message || 'network'; }
  NetworkError.prototype = Object.create(Error.prototype);
  function HttpError(status, detail) { this.name = 'HttpError'; this.status = status; this.detail = detail; this.message = 'HTTP ' + status; }
  HttpError.prototype = Object.create(Error.prototype);
  function StreamError(message) { this.name = 'StreamError'; this.message = message; }
  StreamError.prototype = Object.create(Error.prototype);

  function formatDetail(d) {
    if (d === null || d === undefined) return '';
    if (typeof d === 'string') return d;
    if (Array.isArray(d)) {
      return d.map(function (e) {
        if (typeof e === 'string') return e;
        if (e && typeof e === 'object') {
          var loc = Array.isArray(e.loc) ? e.loc.filter(function (x) { return x !== 'body'; }).join('.') : '';
          var msg = e.msg || e.message || JSON.stringify(e);
          return loc ? loc + '：' + msg : msg;
        }
        return String(e);
      }).join('；');
    }
    if (typeof d === 'object') return d.message || d.detail || JSON.stringify(d);
    return String(d);
  }

  // ---------------------------------------------------------------- API key
  // A server with TOUYAN_API_KEY wants `Authorization: Bearer <key>`: the key is asked for once
  // and kept in this browser (localStorage), sent with every request.

  var KEY_STORE = 'touyan.apiKey';

  function apiKey() {
    try { return localStorage.getItem(KEY_STORE) || ''; } catch (e) { return ''; }
  }

  // The report the user picked (several reports: a picker in the header); all reports when none.
  function withReport(body) {
    if (els.report && els.report.value) body.report = els.report.value;
    return body;
  }

  async function loadReports() {
    try {
      var j = await request('/reports');
      var reports = Array.isArray(j.reports) ? j.reports : [];
      if (reports.length < 2) return;
      reports.forEach(function (r) {
        els.report.appendChild(h('option', { value: r.id, text: (r.title || r.id) + '（' + r.cases + ' 个案例）' }));
      });
      els.reportPick.hidden = false;
    } catch (err) { /* the picker stays hidden: every report is searched */ }
  }

  function withKey(headers) {
    var key = apiKey();
    if (key) headers.Authorization = 'Bearer ' + key;
    return headers;
  }

  function askForKey(wrong) {
    els.keyLabel.textContent = wrong ? 'API 密钥无效，请重新输入：' : '此服务需要 API 密钥：';
    els.keyForm.hidden = false;
    els.keyInput.focus();
  }

  var HTTP_TEXT = {
    401: 'API 密钥缺失或无效', 400: '请求有误', 404: '服务器上没有这个接口', 405: '服务器不接受这个请求', 408: '请求超时',
    413: '问题太长', 422: '请求内容无效', 429: '请求太频繁，请稍后再试',
    500: '服务器内部错误', 502: '服务网关出错', 503: '服务暂不可用（可能正在建立索引），请稍后再试', 504: '服务响应超时'
  };

  function errorText(err) {
    if (err instanceof NetworkError) return '无法连接到服务器。请确认服务（touyan serve）正在运行，然后重试。';
    if (err instanceof HttpError) {
      var base = HTTP_TEXT[err.status] || (err.status >= 500 ? '服务器出错' : '请求失败');
      return base + '（HTTP ' + err.status + '）' + (err.detail ? '：' + err.detail : '');
    }
    if (err instanceof StreamError) return '回答中断：' + err.message;
    return '出错了：' + (err && err.message ? err.message : String(err));
  }

  async function readError(res) {
    var detail = '';
    try {
      var body = await res.text();
      try {
        var j = JSON.parse(body);
        detail = formatDetail(j.detail !== undefined ? j.detail : (j.error !== undefined ? (j.error.message || j.error) : j));
      } catch (e) { detail = body.slice(0, 300); }
    } catch (e) { /* body unreadable */ }
    return new HttpError(res.status, detail);
  }

  async function request(path, body, signal) {
    var res;
    try {
      res = await fetch(path, body === undefined ? { signal: signal, headers: withKey({}) } : {
        method: 'POST', headers: withKey({ 'Content-Type': 'application/json' }), body: JSON.stringify(body), signal: signal
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new NetworkError(e && e.message);
    }
    if (res.status === 401) askForKey(!!apiKey());
    if (!res.ok) throw await readError(res);
    try { return await res.json(); } catch (e) { throw new StreamError('服务器返回的不是有效的 JSON'); }
  }

  function showBanner(text) {
    els.bannerText.textContent = text;
    els.banner.hidden = false;
  }
  function hideBanner() { els.banner.hidden = true; }

  // ---------------------------------------------------------------- health

  async function checkHealth() {
    try {
      var j = await request('/health');
      var parts = [];
      if (isNum(j.cases)) parts.push('已收录 ' + j.cases + ' 个案例');
      if (isNum(j.chunks)) parts.push(j.chunks + ' 个段落');
      els.status.textContent = parts.length ? parts.join(' · ') : '服务正常';
      els.status.classList.remove('status-bad');
      if (j.auth && !apiKey()) askForKey(false);
      if (state.healthTimer) { clearInterval(state.healthTimer); state.healthTimer = null; hideBanner(); }
      return true;
    } catch (err) {
      els.status.textContent = err instanceof NetworkError ? '服务器未连接' : '服务异常';
      els.status.classList.add('status-bad');
      showBanner(errorText(err));
      if (!state.healthTimer) state.healthTimer = setInterval(checkHealth, 10000);
      return false;
    }
  }

  // ---------------------------------------------------------------- tabs

  function selectTab(name, focus) {
    var chat = name !== 'cases';
    els.tabChat.setAttribute('aria-selected', String(chat));
    els.tabCases.setAttribute('aria-selected', String(!chat));
    els.tabChat.tabIndex = chat ? 0 : -1;
    els.tabCases.tabIndex = chat ? -1 : 0;
    els.panelChat.hidden = !chat;
    els.panelCases.hidden = chat;
    if (focus) (chat ? els.tabChat : els.tabCases).focus();
    if (!chat) loadCases();
    var hash = chat ? '' : '#cases';
    if (location.hash !== hash) history.replaceState(null, '', location.pathname + location.search + hash);
  }

  // ---------------------------------------------------------------- case browser

  async function loadCases(force) {
    if ((state.casesLoaded && !force) || state.casesLoading) return;
    state.casesLoading = true;
    els.cases.setAttribute('aria-busy', 'true');
    try {
      var j = await request('/cases');
      renderCases(Array.isArray(j.cases) ? j.cases : []);
      state.casesLoaded = true;
    } catch (err) {
      els.cases.textContent = '';
      els.casesSummary.textContent = '';
      append(els.cases, h('div', { class: 'error-box', role: 'alert' },
        h('p', { text: '案例列表加载失败。' + errorText(err) }),
        h('button', { type: 'button', class: 'retry', text: '重试', onclick: function () { loadCases(true); } })));
    } finally {
      state.casesLoading = false;
      els.cases.removeAttribute('aria-busy');
    }
  }

  function renderCases(cases) {
    var groups = new Map();
    cases.forEach(function (c) {
      var key = isNum(c.page) ? c.page : null;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(c);
    });
    var keys = Array.from(groups.keys()).sort(function (a, b) {
      if (a === null) return -1;
      if (b === null) return 1;
      return a - b;
    });
    els.cases.textContent = '';
    els.casesSummary.textContent = '共 ' + cases.length + ' 个案例，' + keys.filter(function (k) { return k !== null; }).length + ' 个版面。点击案例查看章节。';
    if (!cases.length) { append(els.cases, h('p', { class: 'muted', text: '还没有案例。' })); return; }
    keys.forEach(function (key) {
      var label = key === null ? '序言 · 无版面' : '第' + key + '版';
      var list = h('ul', { class: 'case-list' });
      groups.get(key).forEach(function (c) { list.appendChild(h('li', null, caseItem(c))); });
      els.cases.appendChild(h('section', { class: 'page-group', 'data-page': key === null ? 'none' : String(key), 'aria-label': label },
        h('h3', { class: 'page-title', text: label }), list));
    });
  }

  function caseItem(c) {
    var sections = Array.isArray(c.sections) ? c.sections : [];
    var secList = h('ol', { class: 'section-list' });
    sections.forEach(function (s) {
      var kind = s.kind || 'body';
      secList.appendChild(h('li', { class: 'section-item kind-' + kind },
        h('span', { class: 'section-title', text: s.title || '（无标题）' }),
        kind !== 'body' ? h('span', { class: 'badge', text: KIND_LABEL[kind] || kind }) : null));
    });
    var authors = Array.isArray(c.authors) && c.authors.length ? c.authors.join(' ') : '';
    return h('details', { class: 'case', 'data-case-id': c.id || '' },
      h('summary', null,
        h('span', { class: 'case-title', text: c.title || '（无标题）' }),
        c.kind && c.kind !== 'case' ? h('span', { class: 'badge', text: c.kind === 'preface' ? '序言' : c.kind }) : null),
      h('div', { class: 'case-body' },
        c.project ? h('p', { class: 'case-meta' }, h('span', { class: 'label', text: '改革项目' }), c.project) : null,
        authors ? h('p', { class: 'case-meta' }, h('span', { class: 'label', text: '作者' }), authors) : null,
        h('p', { class: 'case-meta' }, h('span', { class: 'label', text: '章节' }), sections.length + ' 节'),
        secList,
        h('button', {
          type: 'button', class: 'link-button', text: '就这个案例提问',
          onclick: function () {
            selectTab('chat');
            els.question.value = '「' + (c.title || '') + '」';
            autoGrow();
            els.question.focus();
          }
        })));
  }

  // ---------------------------------------------------------------- conversation

  function clearFormError() {
    els.formError.textContent = '';
    els.question.removeAttribute('aria-invalid');
  }

  function setBusy(busy) {
    state.busy = busy;
    els.send.textContent = busy ? '停止' : '发送';
    els.send.classList.toggle('stop', busy);
    els.send.setAttribute('aria-label', busy ? '停止生成回答' : '发送问题');
    els.form.setAttribute('aria-busy', String(busy));
  }

  function nearBottom() {
    return els.log.scrollHeight - els.log.scrollTop - els.log.clientHeight < 60;
  }
  // Follow the growing answer unless the reader has scrolled up (state.stick).
  function scrollDown(force) {
    if (force) state.stick = true;
    if (state.stick) els.log.scrollTop = els.log.scrollHeight;
  }

  function isFollowUpFragment(q) {
    var s = q.replace(/\s+/g, '');
    return s.length <= 16 && (/^(那|那么|还有|另外|而|和)/.test(s) || /(呢|如何|怎样|怎么样)[？?。]?$/.test(s) && s.length <= 10);
  }

  function standaloneGuess(question) {
    var prev = null;
    for (var i = state.turns.length - 1; i >= 0; i--) {
      if (state.turns[i].ok) { prev = state.turns[i]; break; }
    }
    if (prev && isFollowUpFragment(question)) return prev.standalone + ' ' + question;
    return question;
  }

  function addUserMessage(text) {
    var node = h('div', { class: 'msg user' },
      h('div', { class: 'msg-who', text: '你' }),
      h('div', { class: 'bubble', text: text }));
    els.log.appendChild(node);
    return node;
  }

  function newTurn(question) {
    var turn = {
      id: state.turns.length + 1, question: question, text: '', citations: null, results: null,
      standalone: question, ok: false, citedPassages: {}
    };
    var answer = h('div', { class: 'answer', 'aria-live': 'off' });
    var thinking = h('p', { class: 'thinking', text: '正在检索并生成回答…' });
    turn.el = h('article', { class: 'msg assistant', 'data-state': 'streaming', 'data-turn': String(turn.id), 'aria-label': '回答 ' + turn.id, 'aria-busy': 'true' },
      h('div', { class: 'msg-who', text: '头雁' }),
      h('div', { class: 'bubble' }, thinking, answer,
        h('div', { class: 'sources', hidden: true }),
        h('div', { class: 'cited', hidden: true }),
        h('div', { class: 'others', hidden: true }),
        h('div', { class: 'msg-error', role: 'alert', hidden: true })));
    turn.answerEl = answer;
    turn.thinkingEl = thinking;
    state.turns.push(turn);
    els.log.appendChild(turn.el);
    return turn;
  }

  // Split the assistant text into the answer proper and its trailing sources list.
  var SOURCES_RE = /\n[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?(?:来源|参考来源|参考资料|引用来源|资料来源|引用|出处|Sources|References)(?:\*\*)?[ \t]*[:：]?(?:\*\*)?[ \t]*(?:\n|$)/;

  function splitSources(text) {
    var m = SOURCES_RE.exec(text);
    if (!m) return { body: text, sources: '' };
    return { body: text.slice(0, m.index), sources: text.slice(m.index).replace(/^\s+/, '') };
  }

  // Text with [n] marks (and **bold**) -> nodes with citation buttons.
  function richText(turn, text) {
    var out = [];
    var re = /\[(\d{1,3})\]|\*\*([^*\n]+)\*\*/g;
    var last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) out.push(text.slice(last, m.index));
      if (m[1] !== undefined) out.push(citeButton(turn, parseInt(m[1], 10)));
      else out.push(h('strong', { text: m[2] }));
      last = re.lastIndex;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function findCitation(turn, n) {
    if (!turn.citations) return null;
    for (var i = 0; i < turn.citations.length; i++) if (Number(turn.citations[i].n) === n) return turn.citations[i];
    return null;
  }

  function citeButton(turn, n) {
    var c = findCitation(turn, n);
    var label = '引用 ' + n + (c ? '：' + (c.case || '') + '，' + pageLabel(c.page) : '');
    return h('button', {
      type: 'button', class: 'cite' + (turn.citations && !c ? ' cite-missing' : ''), 'data-n': String(n),
      'aria-label': label, title: c ? (c.case || '') + ' · ' + pageLabel(c.page) + (c.section ? ' · ' + c.section : '') : label,
      text: '[' + n + ']',
      onclick: function (ev) { openCitation(turn, n, ev.currentTarget); }
    });
  }

  function renderTurn(turn) {
    turn.renderQueued = false;
    var parts = splitSources(turn.text);
    var body = parts.body;
    if (body || turn.text) turn.thinkingEl.hidden = true;
    var answer = turn.answerEl;
    answer.textContent = '';
    append(answer, richText(turn, body.replace(/\s+$/, '')));
    if (turn.el.dataset.state === 'streaming' && turn.text) answer.appendChild(h('span', { class: 'caret', 'aria-hidden': 'true' }));

    var sourcesEl = turn.el.querySelector('.sources');
    var hasStructured = turn.citations && turn.citations.length;
    sourcesEl.textContent = '';
    if (parts.sources && !hasStructured) {
      sourcesEl.hidden = false;
      append(sourcesEl, richText(turn, parts.sources));
    } else {
      sourcesEl.hidden = true;
    }
    var notFound = turn.found === false;
    turn.el.classList.toggle('not-found', notFound);
    var badge = turn.el.querySelector('.not-found-badge');
    if (notFound && !badge) {
      turn.answerEl.parentNode.insertBefore(h('p', { class: 'not-found-badge', text: '报告中没有相关内容' }), turn.answerEl);
    } else if (!notFound && badge) {
      badge.remove();
    }
    renderCited(turn);
    renderOthers(turn);
  }

  function scheduleRender(turn) {
    if (turn.renderQueued) return;
    turn.renderQueued = true;
    requestAnimationFrame(function () { renderTurn(turn); scrollDown(); });
  }

  function renderCited(turn) {
    var box = turn.el.querySelector('.cited');
    box.textContent = '';
    if (!turn.citations || !turn.citations.length) { box.hidden = true; return; }
    box.hidden = false;
    var list = h('ol', { class: 'cited-list' });
    turn.citations.forEach(function (c) {
      var n = Number(c.n);
      list.appendChild(h('li', null, h('button', {
        type: 'button', class: 'cited-item', 'data-n': String(n),
        onclick: function (ev) { openCitation(turn, n, ev.currentTarget); }
      }, h('span', { class: 'cite-n', text: '[' + n + ']' }),
        h('span', { class: 'cited-text' },
          h('span', { class: 'cited-case', text: c.case || '' }), ' ',
          h('span', { class: 'cited-meta', text: pageLabel(c.page) + (c.section ? ' · ' + c.section : '') })))));
    });
    append(box, h('h3', { class: 'sub-title', text: '引用' }), list);
  }

  function renderOthers(turn) {
    var box = turn.el.querySelector('.others');
    box.textContent = '';
    if (!turn.results || !turn.results.length) { box.hidden = true; return; }
    var cited = new Set((turn.citations || []).map(function (c) { return c.chunk_id; }));
    var others = turn.results.filter(function (r) { return !cited.has(r.chunk_id); });
    box.hidden = false;
    if (!others.length) {
      append(box, h('h3', { class: 'sub-title', text: '其他检索到的段落' }), h('p', { class: 'muted small', text: '检索到的段落都已在引用中。' }));
      return;
    }
    var list = h('ol', { class: 'passage-list' });
    others.forEach(function (r) {
      list.appendChild(h('li', { class: 'passage', 'data-chunk-id': r.chunk_id || '' }, h('details', null,
        h('summary', null,
          h('span', { class: 'passage-case', text: r.case || '' }),
          h('span', { class: 'passage-meta', text: ' · ' + pageLabel(r.page) + (r.section ? ' · ' + r.section : '') })),
        h('p', { class: 'passage-text', text: r.text || '' }),
        h('button', { type: 'button', class: 'link-button', text: '在侧栏中查看',
          onclick: function (ev) { openPassage(r, ev.currentTarget); } }))));
    });
    // A not-found reply has no sources: the nearest passages are offered as related reading only.
    var title = turn.found === false ? '相关阅读（并非回答的依据）' : (cited.size ? '其他检索到的段落' : '检索到的段落');
    append(box, h('h3', { class: 'sub-title', text: title + '（' + others.length + '）' }), list);
  }

  // ---------------------------------------------------------------- streaming

  function pick(obj, key) {
    if (!obj || typeof obj !== 'object') return undefined;
    var choice = Array.isArray(obj.choices) && obj.choices.length ? obj.choices[0] : null;
    var places = [obj, choice, choice && choice.delta, choice && choice.message, obj.touyan, obj.metadata, obj.extra];
    for (var i = 0; i < places.length; i++) {
      var p = places[i];
      if (p && typeof p === 'object' && p[key] !== undefined && p[key] !== null) return p[key];
    }
    return undefined;
  }

  function takeExtras(turn, obj) {
    var c = pick(obj, 'citations');
    if (Array.isArray(c)) turn.citations = c;
    var r = pick(obj, 'results');
    if (Array.isArray(r)) turn.results = r;
    var q = pick(obj, 'standalone_question');
    if (typeof q !== 'string') q = pick(obj, 'standalone');
    if (typeof q !== 'string') q = pick(obj, 'question');
    if (typeof q === 'string' && q.trim()) turn.streamQuestion = q.trim();
    var f = pick(obj, 'found');
    if (typeof f === 'boolean') turn.found = f;
  }

  function contentOf(obj) {
    var choice = Array.isArray(obj.choices) && obj.choices.length ? obj.choices[0] : null;
    if (!choice) return '';
    if (choice.delta && typeof choice.delta.content === 'string') return choice.delta.content;
    if (typeof choice.text === 'string') return choice.text;
    return '';
  }

  async function streamAnswer(turn, messages, signal) {
    var res;
    try {
      res = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: withKey({ 'Content-Type': 'application/json', 'Accept': 'text/event-stream' }),
        body: JSON.stringify(withReport({ model: 'touyan', messages: messages, stream: true })),
        signal: signal
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new NetworkError(e && e.message);
    }
    if (res.status === 401) askForKey(!!apiKey());
    if (!res.ok) throw await readError(res);

    var ctype = (res.headers.get('content-type') || '').toLowerCase();
    if (ctype.indexOf('application/json') >= 0) {   // the server answered without streaming
      var j = await res.json();
      var choice = j.choices && j.choices[0];
      turn.text = (choice && choice.message && choice.message.content) || j.answer || '';
      takeExtras(turn, j);
      scheduleRender(turn);
      return;
    }
    if (!res.body || !res.body.getReader) {          // very old browser: no streaming body
      parseEvents(turn, await res.text() + '\n\n', true);
      return;
    }

    var reader = res.body.getReader();
    var decoder = new TextDecoder('utf-8');
    var buf = '';
    var st = { done: false, finished: false };
    for (;;) {
      var r;
      try { r = await reader.read(); } catch (e) {
        if (e && e.name === 'AbortError') throw e;
        throw new StreamError('与服务器的连接断开了');
      }
      if (r.done) break;
      buf += decoder.decode(r.value, { stream: true });
      buf = consume(turn, buf, st);
      if (st.done) { try { reader.cancel(); } catch (e) { /* ignore */ } break; }
    }
    buf += decoder.decode();
    if (!st.done && buf.trim()) consume(turn, buf + '\n\n', st);
    if (!st.done && !st.finished) {
      throw new StreamError(turn.text ? '回答没有完整传完，与服务器的连接断开了' : '服务器没有返回回答');
    }
  }

  // Consume the complete events in buf; return the rest.
  function consume(turn, buf, st) {
    // Normalise line ends, but keep a trailing \r: its \n may come in the next read.
    var keep = '';
    if (buf.slice(-1) === '\r') { keep = '\r'; buf = buf.slice(0, -1); }
    buf = buf.replace(/\r\n?/g, '\n');
    var idx;
    while (!st.done && (idx = buf.indexOf('\n\n')) >= 0) {
      handleEvent(turn, buf.slice(0, idx), st);
      buf = buf.slice(idx + 2);
    }
    return buf + keep;
  }

  function parseEvents(turn, text, last) {
    var st = { done: false, finished: false };
    consume(turn, text.replace(/\r\n?/g, '\n'), st);
    if (last && !st.done && !st.finished) throw new StreamError('服务器没有返回回答');
  }

  function handleEvent(turn, block, st) {
    var data = [], event = '';
    block.split('\n').forEach(function (line) {
      if (line.indexOf('data:') === 0) data.push(line.slice(5).replace(/^ /, ''));
      else if (line.indexOf('event:') === 0) event = line.slice(6).trim();
    });
    if (!data.length) return;
    var payload = data.join('\n');
    turn.events = (turn.events || 0) + 1;
    if (payload.trim() === '[DONE]') { st.done = true; turn.sawDone = true; return; }
    var obj;
    try { obj = JSON.parse(payload); } catch (e) { return; }
    if (event === 'error' || (obj && obj.error && !obj.choices)) {
      var e = obj.error || obj;
      throw new StreamError(formatDetail(e.message || e.detail || e) || '服务器出错');
    }
    var piece = contentOf(obj);
    if (piece) { turn.text += piece; scheduleRender(turn); }
    takeExtras(turn, obj);
    var choice = Array.isArray(obj.choices) && obj.choices[0];
    if (choice && choice.finish_reason) st.finished = true;
  }

  // When the stream carried no structured citations or passages, fetch them: first the same
  // conversation unstreamed (the same standalone question, so the same passages), then
  // POST /ask with the standalone question, then POST /search; and any cited passage that is
  // still missing by its quote.
  async function completeExtras(turn, messages, signal) {
    if (!turn.citations || !turn.results) {
      try {
        var j = await request('/v1/chat/completions', withReport({ model: 'touyan', messages: messages, stream: false }), signal);
        var c = pick(j, 'citations'), r = pick(j, 'results');
        if (!turn.citations && Array.isArray(c)) turn.citations = c;
        if (!turn.results && Array.isArray(r)) turn.results = r;
        var q = pick(j, 'touyan') && j.touyan.question;
        if (typeof q === 'string' && q.trim()) turn.streamQuestion = q.trim();
        turn.extrasFrom = 'chat';
      } catch (err) { if (err && err.name === 'AbortError') throw err; turn.extrasError = err; }
    }
    var question = turn.streamQuestion || turn.standalone;
    if (!turn.citations || !turn.results) {
      try {
        var a = await request('/ask', withReport({ question: question }), signal);
        if (!turn.citations && Array.isArray(a.citations)) turn.citations = a.citations;
        if (!turn.results && Array.isArray(a.results)) turn.results = a.results;
        if (turn.found === undefined && typeof a.found === 'boolean') turn.found = a.found;
        turn.extrasFrom = 'ask';
      } catch (err) { if (err && err.name === 'AbortError') throw err; turn.extrasError = err; }
    }
    if (!turn.results) {
      try {
        var s = await request('/search', withReport({ query: question, top_k: 5 }), signal);
        if (Array.isArray(s.results)) turn.results = s.results;
        turn.extrasFrom = 'search';
      } catch (err) { if (err && err.name === 'AbortError') throw err; turn.extrasError = err; }
    }
    var missing = (turn.citations || []).filter(function (c) { return c.chunk_id && !findResult(turn, c.chunk_id); });
    for (var i = 0; i < missing.length && i < 10; i++) {
      var cit = missing[i];
      if (!cit.quote) continue;
      try {
        var body = { query: cit.quote, top_k: 5 };
        if (cit.case_id) body.case_id = cit.case_id;
        var found = await request('/search', body, signal);
        (found.results || []).forEach(function (r) {
          if (r.chunk_id === cit.chunk_id) turn.citedPassages[r.chunk_id] = r;
        });
      } catch (err) { if (err && err.name === 'AbortError') throw err; }
    }
  }

  function finishTurn(turn, stateName, err) {
    turn.el.dataset.state = stateName;
    turn.el.removeAttribute('aria-busy');
    renderTurn(turn);
    var errBox = turn.el.querySelector('.msg-error');
    errBox.textContent = '';
    if (err) {
      turn.thinkingEl.hidden = true;
      errBox.hidden = false;
      append(errBox, h('p', { text: errorText(err) }),
        h('button', { type: 'button', class: 'retry', text: '重试',
          onclick: function () { if (!state.busy) { els.question.value = turn.question; autoGrow(); submit(); } } }));
    } else if (stateName === 'stopped') {
      turn.thinkingEl.hidden = true;
      errBox.hidden = false;
      append(errBox, h('p', { class: 'muted', text: '已停止生成。' }));
    } else if (stateName === 'done' && !turn.text.trim()) {
      errBox.hidden = false;
      append(errBox, h('p', { text: '服务器返回了空的回答。' }));
    } else {
      errBox.hidden = true;
    }
    scrollDown();
    if (state.drawerFor && state.drawerFor.turn === turn) openCitation(turn, state.drawerFor.n, null, true);
  }

  async function ask(question) {
    if (els.welcome) els.welcome.hidden = true;
    addUserMessage(question);
    var turn = newTurn(question);
    turn.standalone = standaloneGuess(question);
    scrollDown(true);
    var messages = state.history.concat([{ role: 'user', content: question }]);
    var controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    try {
      await streamAnswer(turn, messages, controller.signal);
      renderTurn(turn);
      await completeExtras(turn, messages, controller.signal);
      turn.ok = true;
      state.history.push({ role: 'user', content: question }, { role: 'assistant', content: turn.text });
      finishTurn(turn, 'done');
      hideBanner();
    } catch (err) {
      if (err && err.name === 'AbortError') finishTurn(turn, 'stopped');
      else {
        finishTurn(turn, 'error', err);
        if (err instanceof NetworkError) checkHealth();
      }
    } finally {
      state.controller = null;
      setBusy(false);
      scrollDown();
    }
  }

  function submit() {
    if (state.busy) return;
    var q = els.question.value.trim();
    if (!q) {
      els.formError.textContent = '请输入问题后再发送。';
      els.question.setAttribute('aria-invalid', 'true');
      els.question.focus();
      return;
    }
    clearFormError();
    els.question.value = '';
    autoGrow();
    ask(q);
  }

  function autoGrow() {
    var q = els.question;
    q.style.height = 'auto';
    q.style.height = Math.min(q.scrollHeight + 2, 160) + 'px';
  }

  function newChat() {
    if (state.controller) state.controller.abort();
    state.history = [];
    state.turns = [];
    closeDrawer();
    Array.from(els.log.querySelectorAll('.msg')).forEach(function (n) { n.remove(); });
    if (els.welcome) els.welcome.hidden = false;
    clearFormError();
    els.question.focus();
  }

  // ---------------------------------------------------------------- drawer

  // The [start, end) span is in code points (as Python counts), not UTF-16 units.
  function highlightParts(text, cit) {
    var cps = Array.from(text);
    var s = cit.start, e = cit.end;
    if (Number.isInteger(s) && Number.isInteger(e) && s >= 0 && s < e && e <= cps.length) {
      return [cps.slice(0, s).join(''), cps.slice(s, e).join(''), cps.slice(e).join('')];
    }
    var quote = (cit.quote || '').trim();
    var i = quote ? text.indexOf(quote) : -1;
    if (i >= 0) return [text.slice(0, i), quote, text.slice(i + quote.length)];
    return null;
  }

  function findResult(turn, chunkId) {
    var rs = turn.results || [];
    for (var i = 0; i < rs.length; i++) if (rs[i].chunk_id === chunkId) return rs[i];
    return turn.citedPassages[chunkId] || null;
  }

  function metaList(rows) {
    var dl = h('dl', { class: 'meta' });
    rows.forEach(function (row) {
      if (!row[1]) return;
      append(dl, h('div', { class: 'meta-row ' + (row[2] || '') }, h('dt', { text: row[0] }), h('dd', { text: row[1] })));
    });
    return dl;
  }

  function showDrawer(title, nodes, opener) {
    if (opener) state.lastFocus = opener;
    els.drawerTitle.textContent = title;
    els.drawerBody.textContent = '';
    append(els.drawerBody, nodes);
    els.drawerBody.scrollTop = 0;
    var wasHidden = els.drawer.hidden;
    els.drawer.hidden = false;
    els.scrim.hidden = false;
    document.body.classList.add('drawer-open');
    if (wasHidden || opener) els.drawerClose.focus({ preventScroll: true });
  }

  function openCitation(turn, n, opener, refresh) {
    if (refresh && els.drawer.hidden) return;
    state.drawerFor = { turn: turn, n: n };
    var title = '引用 [' + n + ']';
    var cit = findCitation(turn, n);
    if (!cit) {
      var waiting = turn.el.dataset.state === 'streaming';
      showDrawer(title, h('p', { class: 'muted', text: waiting ? '引用信息会在回答结束后显示…' : '没有找到引用 [' + n + '] 的段落信息。' + (turn.extrasError ? errorText(turn.extrasError) : '') }), opener);
      return;
    }
    var r = findResult(turn, cit.chunk_id);
    var nodes = [metaList([
      ['案例', cit.case || (r && r.case), 'meta-case'],
      ['改革项目', r && r.project],
      ['章节', cit.section || (r && r.section), 'meta-section'],
      ['版面', pageLabel(cit.page !== undefined ? cit.page : r && r.page), 'meta-page']
    ])];
    var passage = h('blockquote', { class: 'passage-full' });
    var parts = r && r.text ? highlightParts(r.text, cit) : null;
    if (parts) {
      append(passage, parts[0], h('mark', { class: 'quote', text: parts[1] }), parts[2]);
    } else if (r && r.text) {
      append(passage, r.text);
      if (cit.quote) nodes.push(h('p', { class: 'muted small' }, '引用的句子：', h('mark', { class: 'quote', text: cit.quote })));
    } else {
      append(passage, h('mark', { class: 'quote', text: cit.quote || '' }));
      nodes.push(h('p', { class: 'muted small', text: '（只有引用的句子，没有找到完整段落。）' }));
    }
    nodes.splice(1, 0, h('h3', { class: 'sub-title', text: '原文段落' }), passage);
    var fileLink = openFileButton(cit.document_id || (r && r.document_id), cit.pdf_page || (r && r.pdf_page), cit.page_label || (r && r.page_label));
    if (fileLink) nodes.splice(1, 0, fileLink);
    var others = (turn.citations || []).filter(function (c) { return Number(c.n) !== n; });
    if (others.length) {
      var nav = h('div', { class: 'drawer-nav', 'aria-label': '其他引用' }, h('span', { class: 'muted small', text: '其他引用：' }));
      others.forEach(function (c) {
        nav.appendChild(h('button', { type: 'button', class: 'cite', text: '[' + c.n + ']',
          'aria-label': '引用 ' + c.n + '：' + (c.case || ''),
          onclick: function () { openCitation(turn, Number(c.n), null); } }));
      });
      nodes.push(nav);
    }
    showDrawer(title, nodes, opener);
    var m = els.drawerBody.querySelector('mark.quote');
    if (m && m.scrollIntoView) m.scrollIntoView({ block: 'nearest' });
  }

  function openPassage(r, opener) {
    state.drawerFor = null;
    showDrawer('检索到的段落', [
      metaList([['案例', r.case, 'meta-case'], ['改革项目', r.project], ['章节', r.section, 'meta-section'], ['版面', pageLabel(r.page), 'meta-page']]),
      openFileButton(r.document_id, r.pdf_page, r.page_label),
      h('h3', { class: 'sub-title', text: '原文段落' }),
      h('blockquote', { class: 'passage-full', text: r.text || '' })
    ], opener);
  }

  // An uploaded document opens in a new tab at the page the passage is on (a PDF viewer reads
  // #page=N). It is fetched with the API key, which a plain link could not send.
  function openFileButton(documentId, pdfPage, label) {
    if (!documentId) return null;
    var where = pdfPage ? '第 ' + pdfPage + ' 页' + (label ? '（' + label + '）' : '') : '';
    return h('p', { class: 'open-file' }, h('button', {
      type: 'button', class: 'link-button open-file-button', 'data-document': documentId, 'data-page': pdfPage || '',
      text: '打开原文件' + (where ? '：' + where : ''),
      onclick: async function (ev) {
        var button = ev.currentTarget;
        var tab = window.open('', '_blank');
        try {
          var res = await fetch('/documents/' + encodeURIComponent(documentId) + '/file', { headers: withKey({}) });
          if (res.status === 401) askForKey(!!apiKey());
          if (!res.ok) throw await readError(res);
          var url = URL.createObjectURL(await res.blob());
          var target = url + (pdfPage ? '#page=' + pdfPage : '');
          if (tab) tab.location.href = target; else window.location.href = target;
        } catch (err) {
          if (tab) tab.close();
          button.parentNode.appendChild(h('span', { class: 'muted small', text: ' ' + errorText(err) }));
        }
      }
    }));
  }

  function closeDrawer() {
    if (els.drawer.hidden) return;
    els.drawer.hidden = true;
    els.scrim.hidden = true;
    document.body.classList.remove('drawer-open');
    state.drawerFor = null;
    if (state.lastFocus && document.body.contains(state.lastFocus)) state.lastFocus.focus({ preventScroll: true });
    state.lastFocus = null;
  }

  // ---------------------------------------------------------------- wiring

  els.form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (state.busy) { if (state.controller) state.controller.abort(); return; }
    submit();
  });
  els.question.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      if (!state.busy) submit();
    }
  });
  els.question.addEventListener('input', function () { clearFormError(); autoGrow(); });
  els.newChat.addEventListener('click', newChat);
  els.log.addEventListener('scroll', function () { state.stick = nearBottom(); }, { passive: true });
  els.bannerClose.addEventListener('click', hideBanner);
  els.drawerClose.addEventListener('click', closeDrawer);
  els.scrim.addEventListener('click', closeDrawer);
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') closeDrawer(); });

  Array.from(document.querySelectorAll('.example')).forEach(function (b) {
    b.addEventListener('click', function () { els.question.value = b.textContent; autoGrow(); submit(); });
  });

  els.tabChat.addEventListener('click', function () { selectTab('chat'); });
  els.tabCases.addEventListener('click', function () { selectTab('cases'); });
  [els.tabChat, els.tabCases].forEach(function (tab) {
    tab.addEventListener('keydown', function (ev) {
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft' || ev.key === 'Home' || ev.key === 'End') {
        ev.preventDefault();
        selectTab(tab === els.tabChat ? 'cases' : 'chat', true);
      }
    });
  });
  window.addEventListener('hashchange', function () { selectTab(location.hash === '#cases' ? 'cases' : 'chat'); });

  selectTab(location.hash === '#cases' ? 'cases' : 'chat');
  els.keyForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var key = els.keyInput.value.trim();
    if (!key) { els.keyInput.focus(); return; }
    try { localStorage.setItem(KEY_STORE, key); } catch (err) { /* private mode: kept for this page only */ }
    els.keyInput.value = '';
    els.keyForm.hidden = true;
    state.casesLoaded = false;
    if (els.reportPick.hidden) loadReports();
    if (!els.panelCases.hidden) loadCases(true);
  });

  checkHealth().then(loadReports);
  autoGrow();
  els.question.focus({ preventScroll: true });

  window.touyan = { state: state };   // for debugging and the browser tests
})();
