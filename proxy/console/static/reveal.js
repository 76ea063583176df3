// Reveal an incident's evidence in this browser: HPKE base-mode open (RFC 9180,
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) with WebCrypto, then AES-256-GCM
// with the incident's clear metadata as associated data. The reviewer's private key is read
// from a local file and never leaves this page; the server only ever sends sealed bytes,
// after it has written the access record with the reason.
//
// Hand-written because no HPKE library may be loaded from a CDN; it is the ~40 lines of the
// RFC's key schedule for one suite and one single-shot open (sequence number 0, empty AAD),
// the way Python's cryptography.hazmat.primitives.hpke.Suite.encrypt seals.
"use strict";

const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
function b64(text) { return Uint8Array.from(atob(text), (c) => c.charCodeAt(0)); }
function u16(n) { return new Uint8Array([n >> 8, n & 255]); }

async function hmac(key, data) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" },
                                          false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}
// RFC 5869: an empty salt is HashLen zero bytes (the same HMAC key, padded).
async function extract(salt, ikm) { return hmac(salt.length ? salt : new Uint8Array(32), ikm); }
async function expand(prk, info, length) {
  let t = new Uint8Array(0), out = new Uint8Array(0);
  for (let i = 1; out.length < length; i++) {
    t = await hmac(prk, concat(t, info, new Uint8Array([i])));
    out = concat(out, t);
  }
  return out.slice(0, length);
}

const KEM_SUITE = concat(enc.encode("KEM"), u16(0x0020));
const HPKE_SUITE = concat(enc.encode("HPKE"), u16(0x0020), u16(0x0001), u16(0x0002));
const V1 = enc.encode("HPKE-v1");
function labeledExtract(suite, salt, label, ikm) {
  return extract(salt, concat(V1, suite, enc.encode(label), ikm));
}
function labeledExpand(suite, prk, label, info, length) {
  return expand(prk, concat(u16(length), V1, suite, enc.encode(label), info), length);
}

function pemBody(pem) {
  if (/ENCRYPTED PRIVATE KEY/.test(pem)) {
    throw new Error("encrypted key: use the baomi incidents reveal command below");
  }
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (!m) { throw new Error("not a PEM private key"); }
  return b64(m[1].replace(/\s+/g, ""));
}

function b64urlDecode(text) {
  return b64(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
}

// HPKE single-shot open: sealed = enc (32 bytes) || AES-256-GCM ciphertext.
async function hpkeOpen(privateKey, publicRaw, sealed, info) {
  const encapsulated = sealed.slice(0, 32);
  const ephemeral = await crypto.subtle.importKey("raw", encapsulated, { name: "X25519" },
                                                  false, []);
  const dh = new Uint8Array(await crypto.subtle.deriveBits(
    { name: "X25519", public: ephemeral }, privateKey, 256));
  const eaePrk = await labeledExtract(KEM_SUITE, new Uint8Array(0), "eae_prk", dh);
  const shared = await labeledExpand(KEM_SUITE, eaePrk, "shared_secret",
                                     concat(encapsulated, publicRaw), 32);
  const none = new Uint8Array(0);
  const pskIdHash = await labeledExtract(HPKE_SUITE, none, "psk_id_hash", none);
  const infoHash = await labeledExtract(HPKE_SUITE, none, "info_hash", info);
  const context = concat(new Uint8Array([0]), pskIdHash, infoHash);  // mode_base = 0
  const secret = await labeledExtract(HPKE_SUITE, shared, "secret", none);
  const key = await labeledExpand(HPKE_SUITE, secret, "key", context, 32);
  const nonce = await labeledExpand(HPKE_SUITE, secret, "base_nonce", context, 12);
  const aes = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]);
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce },
                                                    aes, sealed.slice(32)));
}

async function openEvidence(pem, sealed) {
  const privateKey = await crypto.subtle.importKey("pkcs8", pemBody(pem), { name: "X25519" },
                                                   true, ["deriveBits"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const dataKey = await hpkeOpen(privateKey, b64urlDecode(jwk.x), b64(sealed.sealed_key),
                                 b64(sealed.info));
  const aes = await crypto.subtle.importKey("raw", dataKey, "AES-GCM", false, ["decrypt"]);
  const blob = b64(sealed.evidence);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: blob.slice(0, 12), additionalData: b64(sealed.aad) },
    aes, blob.slice(12));
  return JSON.parse(dec.decode(plain));
}

function show(evidence) {
  const table = document.getElementById("revealed");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const item of evidence) {
    const row = document.createElement("tr");
    row.className = "revealed-item";
    for (const field of ["entity", "value", "context"]) {
      const cell = document.createElement("td");
      cell.className = field;
      cell.textContent = item && typeof item === "object" ? String(item[field] ?? "") : String(item);
      row.appendChild(cell);
    }
    body.appendChild(row);
  }
  table.hidden = false;
}

function fail(message) {
  const p = document.getElementById("reveal-error");
  p.textContent = message;
  p.hidden = false;
}

async function reveal(form) {
  document.getElementById("reveal-error").hidden = true;
  const file = document.getElementById("key-file").files[0];
  const reason = document.getElementById("reveal-reason").value.trim();
  if (!file || !reason) { fail("choose the key file and give a reason"); return; }
  const pem = await file.text();
  pemBody(pem);  // a wrong file fails here, before an access is recorded
  const response = await fetch(form.dataset.url, {
    method: "POST", credentials: "same-origin",
    headers: { "X-CSRF-Token": form.dataset.csrf },
    body: new URLSearchParams({ reason: reason }),
  });
  const answer = await response.json();
  if (!response.ok) { fail(answer.error || String(response.status)); return; }
  show(await openEvidence(pem, answer));
  form.dataset.revealed = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("reveal-form");
  if (!form) { return; }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    reveal(form).catch((e) => fail(e && e.message ? e.message : "the evidence did not open"));
  });
});
