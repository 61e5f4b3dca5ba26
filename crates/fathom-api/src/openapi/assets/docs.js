// The Fathom API docs page: renders /api/v1/openapi.json and lets you try every operation.
// Plain JavaScript with no dependencies, served from the binary, so it works offline. Text from
// the document is only ever inserted as text, never as HTML. An access token pasted into the page
// lives only in that input: it is never stored, and is sent only by "Try it" on the operations
// whose security asks for a bearer token.
'use strict';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
let spec = null;
// The names of the document's HTTP bearer security schemes, and the input holding the token.
let bearerSchemes = new Set();
let tokenInput = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Text with `code` spans, the only markup the document's descriptions use.
function rich(text) {
  return String(text || '').split('`').map((part, i) => (i % 2 ? el('code', {}, part) : part));
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split('/').pop() : null;
}

// Follows local `$ref`s (`#/components/...`) to the object they name.
function resolve(object) {
  for (let hops = 0; object && object.$ref && hops < 10; hops++) {
    object = object.$ref.replace(/^#\//, '').split('/').reduce((o, key) => (o ? o[key] : undefined), spec);
  }
  return object || {};
}

function schemaLink(schema) {
  if (!schema) return 'any';
  const name = refName(schema);
  if (name) return el('a', { href: '#schema-' + name }, name);
  const union = schema.anyOf || schema.oneOf;
  if (union) return union.map((s, i) => [i ? ' | ' : '', schemaLink(s)]);
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === 'array') return [schemaLink(schema.items), '[]'];
  const types = [].concat(schema.type || []);
  if (!types.length) return 'any JSON';
  const detail = schema['x-fathom-type'] || schema.format;
  return types.join(' | ') + (detail && !types.includes(detail) ? ` (${detail})` : '');
}

function constraints(schema) {
  const out = [];
  if (schema.enum) out.push('one of ' + schema.enum.map((v) => JSON.stringify(v)).join(', '));
  const labels = [['minimum', '≥'], ['maximum', '≤'], ['minLength', 'min length'], ['maxLength', 'max length'],
    ['minItems', 'min items'], ['maxItems', 'max items'], ['pattern', 'pattern'], ['default', 'default']];
  for (const [key, label] of labels) {
    if (schema[key] !== undefined) out.push(`${label} ${typeof schema[key] === 'string' ? schema[key] : JSON.stringify(schema[key])}`);
  }
  if (schema['x-fathom-relation']) out.push('→ ' + schema['x-fathom-relation']);
  return out.join('; ');
}

function schemaTable(schema) {
  const resolved = resolve(schema);
  if (!resolved.properties) {
    return el('p', {}, schemaLink(schema), ' ', rich(resolved.description));
  }
  const required = new Set(resolved.required || []);
  const rows = Object.entries(resolved.properties).map(([name, property]) => {
    const p = resolve(property);
    return el('tr', {},
      el('td', {}, el('code', {}, name), required.has(name) ? el('span', { class: 'req', title: 'required' }, '*') : null),
      el('td', {}, schemaLink(property)),
      el('td', {}, constraints(p)),
      el('td', {}, rich(p.description), p.readOnly ? ' Read-only.' : ''));
  });
  return el('div', { class: 'scroll' },
    resolved.description ? el('p', { class: 'muted' }, rich(resolved.description)) : null,
    el('table', { class: 'schema' },
      el('thead', {}, el('tr', {}, ['Name', 'Type', 'Constraints', 'Notes'].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows)));
}

function paramTable(parameters) {
  return el('div', { class: 'scroll' }, el('table', { class: 'schema' },
    el('thead', {}, el('tr', {}, ['Name', 'In', 'Type', 'Constraints', 'Description'].map((h) => el('th', {}, h)))),
    el('tbody', {}, parameters.map((p) => el('tr', {},
      el('td', {}, el('code', {}, p.name), p.required ? el('span', { class: 'req', title: 'required' }, '*') : null),
      el('td', {}, p.in),
      el('td', {}, schemaLink(p.schema)),
      el('td', {}, constraints(p.schema || {})),
      el('td', {}, rich(p.description)))))));
}

function responseList(responses) {
  return el('ul', { class: 'responses' }, Object.entries(responses || {}).map(([status, response]) => {
    const r = resolve(response);
    const media = Object.entries(r.content || {})[0];
    // Every response carries X-Request-Id (the introduction says so); name only the others.
    const headers = Object.keys(r.headers || {}).filter((name) => name !== 'X-Request-Id');
    return el('li', {},
      el('span', { class: 'status s' + status[0] }, status), ' ',
      rich(r.description),
      media ? [' ', el('span', { class: 'muted' }, media[0], ': '), schemaLink(media[1].schema)] : null,
      headers.length ? [' ', el('span', { class: 'muted' }, 'Headers: '), headers.map((h, i) => [i ? ', ' : '', el('code', {}, h)])] : null);
  }));
}

// Whether an operation's security asks for a bearer token.
function needsBearer(op) {
  return (op.security || []).some((requirement) => Object.keys(requirement).some((name) => bearerSchemes.has(name)));
}

// The field to paste an access token into, for the header; null when no scheme takes one.
function tokenField() {
  const schemes = Object.entries((spec.components || {}).securitySchemes || {})
    .filter(([, scheme]) => scheme.type === 'http' && String(scheme.scheme).toLowerCase() === 'bearer');
  bearerSchemes = new Set(schemes.map(([name]) => name));
  if (!schemes.length) return null;
  tokenInput = el('input', {
    id: 'token', type: 'text', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'paste an access token', 'aria-label': 'Access token',
  });
  return el('label', { class: 'token', title: 'Sent as Authorization: Bearer … by "Try it" on operations that need a token. Kept only while this page is open.' },
    el('span', {}, 'Access token'), tokenInput);
}

// A JSON value for `schema`: its example, default or constant, else one built from its type.
// Objects hold their required properties or, when none is (an update), the first property that is
// not a relation (an example id points nowhere).
function example(schema, depth) {
  const s = resolve(schema);
  if (depth > 4) return null;
  if (s.examples && s.examples.length) return s.examples[0];
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.oneOf || s.anyOf) return example((s.oneOf || s.anyOf)[0], depth + 1);
  switch ([].concat(s.type || [])[0]) {
    case 'object': {
      const required = s.required || [];
      const out = {};
      for (const [name, property] of Object.entries(s.properties || {})) {
        const p = resolve(property);
        const wanted = required.length ? required.includes(name) : !p['x-fathom-relation'] && !Object.keys(out).length;
        if (wanted && !p.readOnly) out[name] = example(p, depth + 1);
      }
      return out;
    }
    case 'array': return [example(s.items, depth + 1)];
    case 'integer': case 'number': return s.minimum !== undefined ? s.minimum : 0;
    case 'boolean': return true;
    case 'string': return '';
    default: return null;
  }
}

function tryIt(tag, path, method, parameters, body, secured) {
  const inputs = parameters.map((p) => {
    const hint = p.example !== undefined ? p.example : p.schema && p.schema.default;
    return { parameter: p, input: el('input', { name: p.name, placeholder: hint, 'aria-label': p.name, autocomplete: 'off' }) };
  });
  const textarea = body ? el('textarea', { rows: 10, spellcheck: 'false', 'aria-label': 'Request body' }) : null;
  if (textarea) textarea.value = JSON.stringify(example(body.schema, 0), null, 2);
  const output = el('div', { class: 'result', hidden: true, 'aria-live': 'polite' });
  const form = el('form', { class: 'try', 'data-tag': tag },
    el('h4', {}, 'Try it'),
    secured ? el('p', { class: 'muted' }, 'Sends ', el('code', {}, 'Authorization: Bearer …'),
      ' with the access token at the top of the page.') : null,
    el('div', { class: 'fields' }, inputs.map(({ parameter, input }) => el('label', {},
      el('span', {}, parameter.name, parameter.in === 'path' ? ' (path)' : ''), input))),
    textarea ? el('label', { class: 'wide' }, el('span', {}, 'Body (JSON)'), textarea) : null,
    el('button', { type: 'submit' }, 'Send ', method.toUpperCase()),
    output);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    send(tag, path, method, inputs, textarea, output, secured);
  });
  return form;
}

async function send(tag, path, method, inputs, textarea, output, secured) {
  let url = path;
  const query = new URLSearchParams();
  for (const { parameter, input } of inputs) {
    const value = input.value.trim();
    if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, encodeURIComponent(value));
    else if (value !== '') query.append(parameter.name, value);
  }
  if (query.toString()) url += '?' + query.toString();
  const init = { method: method.toUpperCase(), headers: { accept: 'application/json' } };
  if (textarea) {
    init.headers['content-type'] = 'application/json';
    init.body = textarea.value;
  }
  const token = secured && tokenInput ? tokenInput.value.trim() : '';
  if (token) init.headers.authorization = 'Bearer ' + token;
  output.hidden = false;
  output.replaceChildren(el('p', { class: 'muted' }, 'Sending…'));
  try {
    const response = await fetch(url, init);
    const raw = await response.text();
    let shown = raw;
    try {
      const json = JSON.parse(raw);
      shown = JSON.stringify(json, null, 2);
      rememberId(tag, json);
      rememberToken(json);
    } catch (_) { /* not JSON: show it as it came */ }
    const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`).join('\n');
    output.replaceChildren(
      el('p', {}, el('span', { class: 'status s' + String(response.status)[0] }, response.status),
        ' ', response.statusText, ' ', el('code', {}, init.method, ' ', url)),
      el('details', {}, el('summary', {}, 'Response headers'), el('pre', {}, headers)),
      shown ? el('pre', { class: 'body' }, shown) : el('p', { class: 'muted' }, 'No body.'));
  } catch (error) {
    output.replaceChildren(el('p', { class: 'error' }, 'The request failed: ', error.message));
  }
}

// After a response with a record, offer its id to this collection's empty `id` inputs.
function rememberId(tag, json) {
  const data = json && json.data;
  const id = data && (Array.isArray(data) ? data[0] && data[0].id : data.id);
  if (typeof id !== 'string') return;
  for (const input of document.querySelectorAll(`form[data-tag="${CSS.escape(tag)}"] input[name="id"]`)) {
    if (!input.value) input.value = id;
  }
}

// After a sign-in or refresh, put its access token into the token field (the page's memory only).
function rememberToken(json) {
  const data = json && json.data;
  if (tokenInput && data && data.token_type === 'Bearer' && typeof data.access_token === 'string') {
    tokenInput.value = data.access_token;
  }
}

function operation(tag, path, method, op) {
  const parameters = (op.parameters || []).map(resolve);
  const body = op.requestBody && resolve(op.requestBody).content && resolve(op.requestBody).content['application/json'];
  const secured = needsBearer(op);
  return el('details', { class: 'op', id: 'op-' + op.operationId },
    el('summary', {},
      el('span', { class: 'method m-' + method }, method.toUpperCase()),
      el('code', { class: 'path' }, path),
      secured ? el('span', { class: 'lock', title: 'Needs an access token' }, 'token') : null,
      el('span', { class: 'summary' }, op.summary || '')),
    el('div', { class: 'op-body' },
      secured ? el('p', { class: 'note' }, 'Needs an access token: ',
        el('code', {}, 'Authorization: Bearer <access_token>'), '.') : null,
      op.description ? el('p', {}, rich(op.description)) : null,
      parameters.length ? [el('h4', {}, 'Parameters'), paramTable(parameters)] : null,
      body ? [el('h4', {}, 'Request body'), schemaTable(body.schema)] : null,
      el('h4', {}, 'Responses'), responseList(op.responses),
      tryIt(tag, path, method, parameters, body, secured)));
}

function render() {
  document.title = spec.info.title;
  document.getElementById('title').textContent = spec.info.title;
  document.getElementById('version').textContent = 'version ' + spec.info.version + ' · OpenAPI ' + spec.openapi;
  const field = tokenField();
  if (field) document.querySelector('.top .raw').before(field);
  const byTag = new Map((spec.tags || []).map((t) => [t.name, { tag: t, ops: [] }]));
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const name = (op.tags || ['Other'])[0];
      if (!byTag.has(name)) byTag.set(name, { tag: { name }, ops: [] });
      byTag.get(name).ops.push([path, method, op]);
    }
  }
  const intro = String(spec.info.description || '').split('\n\n')
    .filter((p) => p && !p.startsWith('|') && !p.endsWith(':'))
    .map((p) => el('p', {}, rich(p)));
  const sections = [...byTag.values()].map(({ tag, ops }) => el('section', { id: 'tag-' + tag.name },
    el('h2', {}, tag.name),
    tag.description ? el('p', { class: 'muted' }, rich(tag.description)) : null,
    ops.map(([path, method, op]) => operation(tag.name, path, method, op))));
  const schemas = Object.entries((spec.components || {}).schemas || {});
  const codes = spec['x-error-codes'] || [];
  document.getElementById('main').replaceChildren(
    el('section', { id: 'intro' }, intro),
    sections,
    el('section', { id: 'errors' }, el('h2', {}, 'Error codes'),
      el('p', { class: 'muted' }, 'Every error is ', el('code', {}, 'application/problem+json'), ' with one of these codes.'),
      el('table', { class: 'schema' },
        el('thead', {}, el('tr', {}, ['Code', 'Status', 'Title'].map((h) => el('th', {}, h)))),
        el('tbody', {}, codes.map((c) => el('tr', {}, el('td', {}, el('code', {}, c.code)), el('td', {}, c.status), el('td', {}, c.title)))))),
    el('section', { id: 'schemas' }, el('h2', {}, 'Schemas'),
      schemas.map(([name, schema]) => el('details', { class: 'op', id: 'schema-' + name },
        el('summary', {}, el('code', {}, name), el('span', { class: 'summary' }, schema.title || '')),
        el('div', { class: 'op-body' }, schemaTable(schema))))));
  document.getElementById('nav').replaceChildren(el('ul', {},
    [...byTag.keys()].map((name) => el('li', {}, el('a', { href: '#tag-' + name }, name))),
    el('li', {}, el('a', { href: '#errors' }, 'Error codes')),
    el('li', {}, el('a', { href: '#schemas' }, 'Schemas'))));
  // Open the operation or schema a link points at.
  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target && target.tagName === 'DETAILS') target.open = true;
}

window.addEventListener('hashchange', () => {
  const target = document.getElementById(location.hash.slice(1));
  if (target && target.tagName === 'DETAILS') target.open = true;
});

fetch('/api/v1/openapi.json', { headers: { accept: 'application/json' } })
  .then((response) => {
    if (!response.ok) throw new Error('the server answered ' + response.status);
    return response.json();
  })
  .then((json) => { spec = json; render(); })
  .catch((error) => {
    document.getElementById('status').textContent = 'Could not load /api/v1/openapi.json: ' + error.message;
  });
