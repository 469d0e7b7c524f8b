#!/usr/bin/env node
// Verify a kiosk's signed events (docs/contracts.md section 1) with Node.js alone (18+, no npm packages).
//
//   node verify-events.mjs --public-key signing.pub events.jsonl [more files ...]
//
// Files hold JSON lines or a JSON array (`kiosk events export`). Exit 0 when every event verifies.
// Only RFC 8785 signatures ("canon": "jcs") can be checked outside Python: events signed before the
// kiosk switched to RFC 8785 have no "canon" and are reported as not verified (use `kiosk events verify`).
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";

// RFC 8785: JSON.stringify already writes numbers and strings as the RFC asks; only object keys need
// sorting, and the default sort compares UTF-16 code units, which is the RFC's order.
function canonicalize(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const members = Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonicalize(value[key])}`);
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value);
}

// key_id: the first 16 hex characters of sha256 over the raw 32-byte public key.
function keyId(publicKey) {
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url");
  return createHash("sha256").update(raw).digest("hex").slice(0, 16);
}

// null when `event` carries a valid signature by one of `keys` (Map key_id -> KeyObject), else why not.
function verifyEvent(event, keys) {
  const { signature, ...body } = event;
  if (signature === null || typeof signature !== "object") return "no signature";
  if (signature.alg !== "Ed25519") return `unsupported algorithm ${JSON.stringify(signature.alg)}`;
  if (signature.canon === undefined) return "legacy canonical form (signed before RFC 8785): check with `kiosk events verify`";
  if (signature.canon !== "jcs") return `unsupported canonicalization ${JSON.stringify(signature.canon)}`;
  const key = keys.get(signature.key_id);
  if (key === undefined) return `signed by unknown key ${JSON.stringify(signature.key_id)}`;
  const message = Buffer.from(canonicalize(body), "utf8");
  if (!verify(null, message, key, Buffer.from(String(signature.value), "base64"))) {
    return "signature does not match the content (altered event or wrong key)";
  }
  return null;
}

function readEvents(path) {
  const text = readFileSync(path, "utf8");
  if (text.trimStart().startsWith("[")) return JSON.parse(text);
  return text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
}

function readKey(path) {
  const key = createPublicKey(readFileSync(path));
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`${path}: not an Ed25519 public key`);
  return key;
}

function main(argv) {
  const keys = new Map();
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--public-key") {
      const key = readKey(argv[++i]);
      keys.set(keyId(key), key);
    } else files.push(argv[i]);
  }
  if (keys.size === 0 || files.length === 0) {
    console.error("usage: node verify-events.mjs --public-key signing.pub [--public-key ...] events.jsonl [...]");
    return 2;
  }
  let total = 0, bad = 0;
  for (const file of files) {
    readEvents(file).forEach((event, index) => {
      total++;
      const reason = event !== null && typeof event === "object" && !Array.isArray(event)
        ? verifyEvent(event, keys) : "not a JSON object";
      if (reason !== null) {
        bad++;
        console.log(`${file} event ${index + 1} (${event?.event_id ?? "?"}): NOT VERIFIED: ${reason}`);
      }
    });
  }
  console.log(`${total} event(s): ${total - bad} verified, ${bad} not verified`);
  return bad || total === 0 ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {   // an unreadable file, a line that is not JSON, a key that is not Ed25519
  console.error(`verify-events: ${error.message}`);
  process.exitCode = 2;
}
