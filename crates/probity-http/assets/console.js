// Probity console: signing in the browser. The private key is a WebCrypto Ed25519 key that
// cannot be extracted, kept in this browser's IndexedDB; the server drafts the event body
// (the same way the CLI builds it) and never sees the key. See schemas/HTTP.md.
"use strict";

const PAYLOAD_TYPE = "application/vnd.probity.event.v1+json";
// PKCS#8 wrapping of a 32-byte Ed25519 seed (RFC 8410): this prefix, then the seed.
const PKCS8_PREFIX = hexBytes("302e020100300506032b657004220420");
const zh = (window.PROBITY || {}).lang !== "en";
const say = (zhText, enText) => (zh ? zhText : enText);

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}
function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
function toBase64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
function base64urlToBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
const utf8 = (text) => new TextEncoder().encode(text);

// ---- the key, in IndexedDB -------------------------------------------------------------
function db() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("probity", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("keys");
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}
async function storeKey(entry) {
  const d = await db();
  await new Promise((resolve, reject) => {
    const tx = d.transaction("keys", "readwrite");
    tx.objectStore("keys").put(entry, "signer");
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
}
async function loadKey() {
  const d = await db();
  return new Promise((resolve, reject) => {
    const get = d.transaction("keys").objectStore("keys").get("signer");
    get.onsuccess = () => resolve(get.result || null);
    get.onerror = () => reject(get.error);
  });
}

// key id = SHA-256("probity/key-id/v1\n" ‖ public key)[0..16], hex (FORMAT.md §2).
async function keyId(publicKey) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", concat(utf8("probity/key-id/v1\n"), publicKey)));
  return toHex(digest.slice(0, 16));
}

// A `probity keygen` file: 64 hex characters of seed. Imported once extractable only to
// read the public half, then again as a key that cannot be extracted, which is what is kept.
async function importKeyFile(text) {
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(say("不是 probity 私钥文件（应为 64 个十六进制字符）", "not a probity private key file (64 hex characters expected)"));
  const pkcs8 = concat(PKCS8_PREFIX, hexBytes(hex));
  const readable = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
  const publicKey = base64urlToBytes((await crypto.subtle.exportKey("jwk", readable)).x);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
  pkcs8.fill(0);
  return { key, publicKey: toBase64(publicKey), keyId: await keyId(publicKey) };
}

async function generateKey() {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { key: pair.privateKey, publicKey: toBase64(publicKey), keyId: await keyId(publicKey) };
}

// DSSE pre-authentication encoding (FORMAT.md §4).
function pae(body) {
  const type = utf8(PAYLOAD_TYPE);
  return concat(utf8(`DSSEv1 ${type.length} `), type, utf8(` ${body.length} `), body);
}

async function signEnvelope(entry, bodyText) {
  const body = utf8(bodyText);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, entry.key, pae(body)));
  return { payloadType: PAYLOAD_TYPE, payload: toBase64(body), signatures: [{ keyid: entry.keyId, sig: toBase64(sig) }] };
}

// ---- forms from the event JSON Schemas ---------------------------------------------------
function resolve(schema, defs) {
  let s = schema;
  while (s && s.$ref) s = defs[s.$ref.replace("#/$defs/", "")];
  if (s && s.anyOf) {
    const branch = s.anyOf.find((b) => b.type !== "null");
    return { ...resolve(branch, defs), description: schema.description || (branch && branch.description), optional: true };
  }
  if (s && Array.isArray(s.type)) return { ...s, type: s.type.find((t) => t !== "null"), optional: true };
  return { ...s, description: schema.description || (s && s.description) };
}

function choices(s) {
  if (s.enum) return s.enum;
  if (s.oneOf && s.oneOf.every((b) => b.const !== undefined)) return s.oneOf.map((b) => b.const);
  return null;
}

function field(name, schema, defs, path, required) {
  const s = resolve(schema, defs);
  const wrap = document.createElement("label");
  wrap.className = "field";
  wrap.dataset.path = path;
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = name + (required && !s.optional ? " *" : "");
  label.title = s.description || "";
  wrap.append(label);
  const hint = document.createElement("small");
  hint.className = "hint";
  hint.textContent = s.description ? " " + s.description.split("\n")[0] : "";
  let input;
  const options = choices(s);
  if (s.type === "object" && s.properties) {
    const set = document.createElement("fieldset");
    set.dataset.path = path;
    set.dataset.kind = "object";
    const legend = document.createElement("legend");
    legend.textContent = name + (s.optional || !required ? say("（可选，可整体留空）", " (optional: leave all empty)") : "");
    legend.title = s.description || "";
    set.append(legend);
    for (const [child, childSchema] of ordered(s)) {
      set.append(field(child, childSchema, defs, `${path}.${child}`, (s.required || []).includes(child)));
    }
    return set;
  } else if (options) {
    input = document.createElement("select");
    input.append(new Option("", ""));
    for (const o of options) input.append(new Option(o, o));
    input.dataset.kind = "string";
  } else if (s.type === "integer" || s.type === "number") {
    input = document.createElement("input");
    input.type = "number";
    input.dataset.kind = "number";
  } else if (s.type === "boolean") {
    input = document.createElement("select");
    for (const o of ["", "true", "false"]) input.append(new Option(o, o));
    input.dataset.kind = "boolean";
  } else if (s.type === "string" && s.format === "date-time") {
    // Typed in the hospital's zone, sent as RFC 3339 with its offset.
    input = document.createElement("input");
    input.type = "datetime-local";
    input.step = "1";
    input.dataset.kind = "datetime";
  } else if (s.type === "array" || s.type === "object") {
    input = document.createElement("textarea");
    input.rows = 3;
    input.placeholder = "JSON";
    input.dataset.kind = "json";
  } else {
    input = document.createElement("input");
    input.type = "text";
    input.dataset.kind = "string";
  }
  input.name = path;
  input.title = s.description || "";
  wrap.append(input);
  const why = document.createElement("span");
  why.className = "why";
  wrap.append(why);
  wrap.append(hint);
  return wrap;
}

// Fields in the order the type declares its required ones (the order people fill them in),
// then the optional ones.
function ordered(schema) {
  const required = schema.required || [];
  const rank = (name) => (required.includes(name) ? required.indexOf(name) : required.length);
  return Object.entries(schema.properties || {}).sort((a, b) => rank(a[0]) - rank(b[0]));
}

// An RFC 3339 instant shown in the hospital's zone, to the second: 2026-03-05 12:00:00.
function localTime(text) {
  const offset = window.PROBITY.offset;
  const minutes = (offset[0] === "-" ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  const shifted = new Date(Date.parse(text) + minutes * 60000);
  return shifted.toISOString().slice(0, 19).replace("T", " ");
}

function collect(container) {
  const out = {};
  for (const child of container.children) {
    const key = (child.dataset.path || "").split(".").pop();
    if (child.dataset.kind === "object") {
      const value = collect(child);
      if (Object.keys(value).length) out[key] = value;
      continue;
    }
    const input = child.querySelector && child.querySelector(":scope > input, :scope > select, :scope > textarea");
    if (!input || input.value === "") continue;
    const kind = input.dataset.kind;
    if (kind === "number") out[key] = Number(input.value);
    else if (kind === "boolean") out[key] = input.value === "true";
    else if (kind === "datetime") out[key] = withOffset(input.value);
    else if (kind === "json") {
      try { out[key] = JSON.parse(input.value); } catch (e) { throw fieldError(child.dataset.path, say("不是有效的 JSON", "not valid JSON")); }
    } else out[key] = input.value;
  }
  return out;
}

function fieldError(path, message) {
  const e = new Error(message);
  e.path = path;
  return e;
}

function markField(path, message) {
  for (const el of document.querySelectorAll(".field.invalid")) {
    el.classList.remove("invalid");
    el.querySelector(".why").textContent = "";
  }
  if (!path) return false;
  const el = document.querySelector(`.field[data-path="${CSS.escape(path)}"]`);
  if (!el) return false;
  el.classList.add("invalid");
  el.querySelector(".why").textContent = message;
  el.scrollIntoView({ block: "center" });
  return true;
}

// ---- the page -------------------------------------------------------------------------
const $ = (id) => document.getElementById(id);
let signer = null;
// Subject versions this step is based on ({"case:CASE-1": 3}), sent as the append's `expect`:
// if anyone records on the subject after the clerk saw it, the step is refused, not recorded
// over a change the clerk never saw.
let expect = {};

async function api(path, options) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const reply = await response.json();
  if (reply.error) {
    const e = new Error(`${reply.error.code}: ${reply.error.message}`);
    e.code = reply.error.code;
    e.detail = reply.error.message;
    throw e;
  }
  return reply.ok;
}

function showKey() {
  $("key-status").textContent = signer
    ? say(`已载入密钥 ${signer.keyId}（公钥 ${signer.publicKey}）`, `Key ${signer.keyId} loaded (public key ${signer.publicKey})`)
    : say("尚未载入密钥。", "No key loaded.");
  $("key-status").dataset.keyId = signer ? signer.keyId : "";
}

async function showForm() {
  const type = $("event-type").value;
  const schema = await api(`/api/event-types/${encodeURIComponent(type)}`);
  const form = $("event-form");
  form.replaceChildren();
  for (const [name, s] of ordered(schema)) {
    form.append(field(name, s, schema.$defs || {}, `payload.${name}`, (schema.required || []).includes(name)));
  }
  form.dataset.path = "payload";
  $("event-summary").textContent = schema.description || "";
}

// A datetime-local value (read in the hospital's zone) as RFC 3339 with the zone's offset.
function withOffset(v) {
  return (v.length === 16 ? v + ":00" : v) + window.PROBITY.offset;
}

function occurredAt() {
  const v = $("occurred-at").value;
  return v ? withOffset(v) : undefined;
}

async function signAndSubmit() {
  const outcome = $("outcome");
  outcome.className = "";
  outcome.textContent = "";
  markField(null);
  let based = {};
  try {
    if (!signer) throw new Error(say("请先载入签名密钥。", "Load your signing key first."));
    const payload = collect($("event-form"));
    const draft = await api("/api/drafts", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: $("event-type").value, payload, signer: signer.publicKey, occurred_at: occurredAt() }),
    });
    $("signed-body").textContent = draft.body;
    // Only versions of subjects the event names (the clerk may have changed the case).
    const named = JSON.parse(draft.body).subjects || {};
    based = Object.fromEntries(Object.entries(expect).filter(([subject]) => {
      const [kind, id] = subject.split(/:(.*)/s);
      return (named[kind] || []).includes(id);
    }));
    const event = await signEnvelope(signer, draft.body);
    const receipt = await api("/api/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(Object.keys(based).length ? { event, expect: based } : { event }),
    });
    // Accepted at exactly these versions: the clerk's own step is the next one of each.
    for (const [subject, version] of Object.entries(based)) expect[subject] = version + 1;
    showPinned();
    outcome.className = "receipt";
    outcome.dataset.seq = receipt.seq;
    outcome.innerHTML = "";
    const line = (text) => { const p = document.createElement("div"); p.textContent = text; outcome.append(p); };
    line(say(`已入账：记录号 ${receipt.seq}`, `Recorded: record ${receipt.seq}`));
    line(say(`记录哈希 ${receipt.hash}`, `record hash ${receipt.hash}`));
    line(say(`入账时间 ${localTime(receipt.recorded_at)}`, `recorded at ${localTime(receipt.recorded_at)}`));
    line(say(`账本签名 ${receipt.sig}`, `ledger signature ${receipt.sig}`));
    const link = document.createElement("a");
    link.href = `/records/${receipt.seq}`;
    link.textContent = say("查看记录", "View the record");
    outcome.append(link);
  } catch (e) {
    outcome.className = "refusal";
    outcome.dataset.code = e.code || "";
    const m = /field `([^`]+)`/.exec(e.detail || "");
    const path = e.path || (m && (m[1] === "." ? null : "payload." + m[1].replace(/^\./, "")));
    markField(path, e.detail || e.message);
    outcome.textContent = say("未入账：", "Not recorded: ") + e.message;
    if (e.code === "version-mismatch") {
      // Someone recorded on the subject since the page was read: show them where to look.
      const again = document.createElement("p");
      again.append(say("此后已有他人在此登记。请重新查看后再办理：", "Someone has recorded on it since. Look again before you act: "));
      for (const subject of Object.keys(based)) {
        const [kind, id] = subject.split(/:(.*)/s);
        const link = document.createElement("a");
        link.className = "reopen";
        link.href = `/${kind === "case" ? "cases" : kind === "supplier" ? "suppliers" : kind === "rep" ? "reps" : "staff"}/${encodeURIComponent(id)}`;
        link.textContent = subject;
        again.append(link, " ");
      }
      outcome.append(again);
    }
  }
  // The outcome is below the form: bring it into sight, receipt or refusal.
  outcome.scrollIntoView({ block: "center" });
}

// The versions the step is based on: those the link pinned (the case page puts the version it
// showed), else the current version of a case the link names, read as the form opens.
async function pinVersions(wanted) {
  for (const [name, value] of wanted) {
    if (name.startsWith("expect.") && /^[0-9]+$/.test(value)) expect[name.slice(7)] = Number(value);
  }
  const cases = wanted.getAll("payload.case").filter((c) => !(`case:${c}` in expect));
  for (const c of cases) {
    try {
      const reply = await api(`/api/version?subject=${encodeURIComponent("case:" + c)}`);
      expect[reply.subject] = reply.version;
    } catch (e) {
      // Not a case id, or not readable with this role: the step goes without that check.
    }
  }
  showPinned();
}

function showPinned() {
  const pinned = Object.entries(expect);
  $("expect-note").textContent = pinned.length
    ? say("提交时核对版本：", "Checked on submission: ") + pinned.map(([s, v]) => say(`${s} 第 ${v} 版`, `${s} at version ${v}`)).join("，")
      + say("（如他人在此之后登记，将拒绝入账）", " (refused if anyone records on it after that)")
    : "";
  $("expect-note").dataset.expect = JSON.stringify(expect);
}

async function main() {
  if (!window.crypto || !crypto.subtle) {
    $("key-status").textContent = say("此浏览器不支持 WebCrypto（需要 https 或本机地址）。", "This browser has no WebCrypto here (it needs https or localhost).");
    return;
  }
  signer = await loadKey();
  showKey();
  $("key-file").addEventListener("change", async (ev) => {
    try {
      signer = await importKeyFile(await ev.target.files[0].text());
      ev.target.value = "";
      await storeKey(signer);
      showKey();
    } catch (e) {
      $("key-status").textContent = e.message;
    }
  });
  $("key-generate").addEventListener("click", async () => {
    signer = await generateKey();
    await storeKey(signer);
    showKey();
  });
  const types = await api("/api/event-types");
  for (const t of types) $("event-type").append(new Option(`${t.event_type} — ${t.summary}`, t.event_type));
  $("event-type").addEventListener("change", showForm);
  // A link may choose the type and fill fields: /record?type=T&payload.finding=…
  const wanted = new URLSearchParams(location.search);
  if (wanted.get("type")) $("event-type").value = wanted.get("type");
  await showForm();
  for (const [name, value] of wanted) {
    const input = document.querySelector(`[name="${CSS.escape(name)}"]`);
    if (name.startsWith("payload.") && input) input.value = value;
  }
  await pinVersions(wanted);
  $("sign-submit").addEventListener("click", signAndSubmit);
  document.body.dataset.ready = "true";
}

main();
