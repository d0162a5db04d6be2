// subscribe.mjs subscribes to a subpub stream with SUB using only Node's
// own HTTP stacks, and reports what it receives as JSON lines on stdout:
//
//   node subscribe.mjs --http 1.1|2 [--ca FILE] [--count N] URL
//
//   {"kind":"ack","status":106,"cacheControl":"public","vary":"Authorization","headerBytes":57}
//   {"kind":"event","n":1,"id":"7","type":"Add","t":1763900000123,"dataType":"Add","content":"note 1","fieldBytes":1203,"headerBytes":1260}
//   {"kind":"end","events":N,"keepalives":K,"headerBytes":B,"reason":"count"}
//
// HTTP/1.1 uses node:http / node:https, whose 'information' event carries
// each 1xx response; HTTP/2 uses node:http2, whose stream emits 'headers' for
// each 1xx HEADERS frame. Event and Event-Data are decoded here, with the
// Structured Fields parser below, independently of subpub's Go code. The
// process exits 0 once it has N events, and 1 (after an "end" line saying
// why) if the stream fails or ends first.
//
// fieldBytes is the size of one PUB's header section and headerBytes the
// running total of every interim response's: over HTTP/1.1 the lines as
// received, CRLF included; over HTTP/2 the name and value of each field.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';

const args = parseArgs(process.argv.slice(2));
const ca = args.ca ? fs.readFileSync(args.ca) : undefined;
const want = Number(args.count ?? 1000);

let events = 0;
let keepalives = 0;
let headerBytes = 0;
let acked = false;
let finished = false;

function say(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function finish(reason, code) {
  if (finished) return;
  finished = true;
  say({ kind: 'end', events, keepalives, headerBytes, reason });
  // Exit once stdout has drained; the open stream is torn down with the process.
  process.stdout.write('', () => process.exit(code));
}

// interim handles one 1xx response: its status and its fields, with names
// in lower case as both Node stacks deliver them.
function interim(status, fields, bytes) {
  headerBytes += bytes;
  if (status === 106) {
    if (!acked) {
      acked = true;
      say({ kind: 'ack', status, cacheControl: fields['cache-control'] ?? null, vary: fields['vary'] ?? null, headerBytes });
    } else {
      keepalives++;
    }
    return;
  }
  if (status !== 105) {
    say({ kind: 'interim', status });
    return;
  }
  let event;
  try {
    event = decodePUB(fields);
  } catch (err) {
    finish(`malformed PUB #${events + 1}: ${err.message}`, 1);
    return;
  }
  events++;
  say({ kind: 'event', n: events, ...event, fieldBytes: bytes, headerBytes });
  if (events >= want) finish('count', 0);
}

// decodePUB reads the Event dictionary and the Event-Data item.
function decodePUB(fields) {
  const raw = fields['event'];
  if (raw === undefined) throw new Error('no Event field');
  const dict = parseDictionary(Array.isArray(raw) ? raw.join(', ') : raw);
  const member = (name) => (dict.has(name) ? dict.get(name).value : undefined);
  const id = member('id');
  const type = member('type');
  const t = member('t');
  const ref = member('ref');
  if (typeof id !== 'string') throw new Error(`Event id is not an sf-string: ${raw}`);
  if (!(type instanceof Token) && typeof type !== 'string') throw new Error(`Event type is not an sf-token: ${raw}`);
  const out = { id, type: String(type), t: typeof t === 'number' ? t : null };
  if (ref !== undefined) {
    out.ref = ref;
    return out;
  }
  const dataRaw = fields['event-data'];
  if (dataRaw === undefined) throw new Error('no Event-Data field and no ref');
  const item = parseItem(Array.isArray(dataRaw) ? dataRaw.join(', ') : dataRaw);
  let text;
  if (typeof item.value === 'string') text = item.value;
  else if (item.value instanceof Uint8Array) text = Buffer.from(item.value).toString('utf8');
  else throw new Error('Event-Data is neither an sf-string nor an sf-binary');
  const data = JSON.parse(text);
  out.dataType = data.type ?? null;
  out.content = data.object?.object?.content ?? data.object?.content ?? null;
  return out;
}

// ---- Structured Field Values (RFC 9651), the parts PUB fields use ----

class Token {
  constructor(s) { this.s = s; }
  toString() { return this.s; }
}

class Parser {
  constructor(s) { this.s = s; this.i = 0; }
  peek() { return this.s[this.i]; }
  eof() { return this.i >= this.s.length; }
  fail(what) { throw new Error(`${what} at ${this.i} in ${JSON.stringify(this.s.slice(0, 80))}`); }
  sp() { while (this.peek() === ' ') this.i++; }
  ows() { while (this.peek() === ' ' || this.peek() === '\t') this.i++; }

  key() {
    const c = this.peek();
    if (!(c >= 'a' && c <= 'z') && c !== '*') this.fail('key expected');
    const start = this.i;
    while (!this.eof() && /[a-z0-9_\-.*]/.test(this.peek())) this.i++;
    return this.s.slice(start, this.i);
  }

  bareItem() {
    const c = this.peek();
    if (c === '"') return this.string();
    if (c === ':') return this.binary();
    if (c === '?') return this.boolean();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (c === '*' || /[A-Za-z]/.test(c ?? '')) return this.token();
    this.fail('bare item expected');
  }

  string() {
    this.i++; // "
    let out = '';
    while (!this.eof()) {
      const c = this.s[this.i++];
      if (c === '\\') {
        const n = this.s[this.i++];
        if (n !== '"' && n !== '\\') this.fail('bad escape');
        out += n;
      } else if (c === '"') {
        return out;
      } else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) this.fail('non-printable character in sf-string');
        out += c;
      }
    }
    this.fail('unterminated sf-string');
  }

  token() {
    const start = this.i;
    this.i++;
    while (!this.eof() && /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/.test(this.peek())) this.i++;
    return new Token(this.s.slice(start, this.i));
  }

  binary() {
    this.i++; // :
    const end = this.s.indexOf(':', this.i);
    if (end < 0) this.fail('unterminated sf-binary');
    const b64 = this.s.slice(this.i, end);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) this.fail('bad base64');
    this.i = end + 1;
    return new Uint8Array(Buffer.from(b64, 'base64'));
  }

  boolean() {
    this.i++; // ?
    const c = this.s[this.i++];
    if (c === '1') return true;
    if (c === '0') return false;
    this.fail('bad boolean');
  }

  number() {
    const m = /^-?[0-9]{1,15}(\.[0-9]{1,3})?/.exec(this.s.slice(this.i));
    if (!m) this.fail('bad number');
    this.i += m[0].length;
    return Number(m[0]);
  }

  params() {
    const params = new Map();
    while (this.peek() === ';') {
      this.i++;
      this.sp();
      const k = this.key();
      let v = true;
      if (this.peek() === '=') {
        this.i++;
        v = this.bareItem();
      }
      params.set(k, v);
    }
    return params;
  }

  item() {
    const value = this.bareItem();
    return { value, params: this.params() };
  }
}

function parseItem(s) {
  const p = new Parser(s);
  p.sp();
  const item = p.item();
  p.sp();
  if (!p.eof()) p.fail('trailing characters');
  return item;
}

function parseDictionary(s) {
  const p = new Parser(s);
  const dict = new Map();
  p.sp();
  while (!p.eof()) {
    const k = p.key();
    let member;
    if (p.peek() === '=') {
      p.i++;
      if (p.peek() === '(') p.fail('inner lists are not used in Event');
      member = p.item();
    } else {
      member = { value: true, params: p.params() };
    }
    dict.set(k, member);
    p.ows();
    if (p.eof()) break;
    if (p.peek() !== ',') p.fail('comma expected');
    p.i++;
    p.ows();
    if (p.eof()) p.fail('trailing comma');
  }
  return dict;
}

// ---- the two HTTP stacks ----

function subscribeHTTP1(url) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const req = mod.request(u, { method: 'SUB', ca, agent: false });
  req.on('information', (info) => {
    const fields = {};
    let bytes = `HTTP/${info.httpVersion} ${info.statusCode} ${info.statusMessage ?? ''}\r\n`.length + 2;
    for (let i = 0; i < info.rawHeaders.length; i += 2) {
      const name = info.rawHeaders[i].toLowerCase();
      const value = info.rawHeaders[i + 1];
      bytes += name.length + 2 + value.length + 2;
      fields[name] = fields[name] === undefined ? value : `${fields[name]}, ${value}`;
    }
    interim(info.statusCode, fields, bytes);
  });
  req.on('response', (res) => {
    res.resume();
    finish(`final response ${res.statusCode}`, 1);
  });
  req.on('error', (err) => finish(`error: ${err.code ?? ''} ${err.message}`, 1));
  req.end();
}

function subscribeHTTP2(url) {
  const u = new URL(url);
  const session = http2.connect(u.origin, { ca });
  session.on('error', (err) => finish(`session error: ${err.code ?? ''} ${err.message}`, 1));
  const stream = session.request({ ':method': 'SUB', ':path': u.pathname + u.search }, { endStream: true });
  stream.on('headers', (headers) => {
    let bytes = 0;
    const fields = {};
    for (const [name, value] of Object.entries(headers)) {
      const v = Array.isArray(value) ? value.join(', ') : String(value);
      bytes += name.length + v.length;
      if (!name.startsWith(':')) fields[name] = v;
    }
    interim(Number(headers[':status']), fields, bytes);
  });
  stream.on('response', (headers) => {
    stream.resume();
    finish(`final response ${headers[':status']}`, 1);
  });
  stream.on('error', (err) => finish(`stream error: ${err.code ?? ''} ${err.message}`, 1));
  stream.on('close', () => finish(`stream closed (RST_STREAM code ${stream.rstCode})`, 1));
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) out[a.slice(2)] = argv[++i];
    else out.url = a;
  }
  if (!out.url || !['1.1', '2'].includes(out.http)) {
    process.stderr.write('usage: node subscribe.mjs --http 1.1|2 [--ca FILE] [--count N] URL\n');
    process.exit(2);
  }
  return out;
}

if (args.http === '2') subscribeHTTP2(args.url);
else subscribeHTTP1(args.url);
