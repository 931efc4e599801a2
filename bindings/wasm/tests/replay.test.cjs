// Replays every vector (vectors/journeys/*.json) through the wasm-bindgen binding, record for
// record, and a journey written the way a web SDK author would. Run by bindings/run-ci:
//   COBROWSE_WASM_PKG=<dir of the nodejs build> node --test bindings/wasm/tests/
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..", "..", "..");
const pkg = process.env.COBROWSE_WASM_PKG || path.join(root, "target", "bindings", "js", "node");
const { Sdk, Controller, defaultSdkConfig, encodeClientFrame } = require(path.join(pkg, "cobrowse_visitor_wasm.js"));

const dir = path.join(root, "vectors", "journeys");
const vectors = fs.readdirSync(dir).filter((n) => n.endsWith(".json")).sort()
  .map((n) => [n, JSON.parse(fs.readFileSync(path.join(dir, n), "utf8"))]);

/** The core after the app was killed and relaunched (spec.md §5.6, §13.2 `relaunch`):
 * restored from the snapshot the old core gave `away_ms` earlier, or new. */
function relaunchedSdk(v, sdk, now, relaunch) {
  if (!relaunch.restored) return new Sdk(v.sdk_config);
  const snapshot = sdk.snapshot(Math.max(now - relaunch.away_ms, 0));
  if (snapshot === undefined) throw new Error("relaunch: no snapshot to restore");
  return Sdk.restore(v.sdk_config, snapshot, v.controller_config.group_id, now, now);
}

/** The controller after a relaunch (spec.md §6.1): restored from its own snapshot next to
 * the core restored from `sdk_snapshot`, or new when either snapshot is missing. */
function relaunchedController(v, c, relaunch) {
  const mine = c.snapshot();
  if (relaunch.sdk_snapshot === null || mine === undefined) return new Controller(v.controller_config);
  const at = relaunch.unix_ms;
  const sdk = Sdk.restore(v.sdk_config, relaunch.sdk_snapshot, v.controller_config.group_id, at, at);
  try { return Controller.restore(v.controller_config, mine, sdk); } finally { sdk.free(); }
}

/** Replays one vector; returns the first mismatch as text, or null. */
function replay(v) {
  let sdk = new Sdk(v.sdk_config);
  try {
    for (const [i, want] of v.sdk.entries()) {
      let error = null;
      if ("relaunch" in want.input) {
        // a refused restore is thrown: the vector's restores all succeed
        const next = relaunchedSdk(v, sdk, want.now, want.input.relaunch);
        sdk.free();
        sdk = next;
      } else {
        try { sdk.handleInput(want.now, want.input); } catch (e) { error = e.code; }
      }
      const rows = sdk.lastRows();
      const outputs = [];
      let timeout;
      for (;;) {
        const o = sdk.pollOutput();
        if ("timeout" in o) { timeout = o.timeout; break; }
        outputs.push(o);
      }
      const got = { now: want.now, input: want.input, error, outputs, timeout, rows };
      try { assert.deepStrictEqual(got, want); } catch (e) { return `sdk step ${i}: ${e.message}`; }
    }
  } finally { sdk.free(); }
  let c = new Controller(v.controller_config);
  try {
    for (const [i, want] of v.controller.entries()) {
      let error = null;
      if ("relaunch" in want.input) {
        const next = relaunchedController(v, c, want.input.relaunch);
        c.free();
        c = next;
      } else {
        try { c.handleInput(want.input); } catch (e) { error = e.code; }
      }
      const rows = c.lastRows();
      const outputs = [];
      for (let o = c.pollOutput(); o !== undefined; o = c.pollOutput()) outputs.push(o);
      const got = { input: want.input, error, outputs, rows };
      try { assert.deepStrictEqual(got, want); } catch (e) { return `controller step ${i}: ${e.message}`; }
    }
  } finally { c.free(); }
  return null;
}

test("there is a vector per seed journey", () => {
  assert.ok(vectors.length >= 11, `${vectors.length} vectors`);
  // the relaunch journeys are among them, so the restore path above is replayed
  const relaunches = vectors.filter(([, v]) => v.sdk.some((s) => "relaunch" in s.input));
  assert.ok(relaunches.length >= 2, relaunches.map(([n]) => n).join(", "));
  assert.ok(relaunches.every(([, v]) => v.controller.some((s) => "relaunch" in s.input)));
});

for (const [name, v] of vectors) {
  test(`replays ${name}`, () => {
    assert.equal(v.format, "cobrowse-replay/1");
    assert.equal(replay(v), null);
  });
}

test("a vector edited by one byte fails the replay", () => {
  const text = fs.readFileSync(path.join(dir, "oneclick_accepted.json"), "utf8");
  const at = text.indexOf('"guestcount": 1') + '"guestcount": '.length;
  const edited = text.slice(0, at) + "2" + text.slice(at + 1);
  const mismatch = replay(JSON.parse(edited));
  assert.match(mismatch ?? "", /step \d+/);
});

test("a relaunch vector edited in its restored session fails the replay", () => {
  // the session key the restored core resumes with (resume_session after the relaunch)
  const v = JSON.parse(fs.readFileSync(path.join(dir, "relaunch_manual_session.json"), "utf8"));
  const at = v.sdk.findIndex((s) => "relaunch" in s.input);
  assert.ok(at > 0);
  const resumed = v.sdk.slice(at).find((s) => s.outputs.some((o) => o.transmit?.type === "resume_session"));
  assert.ok(resumed, "the restored core resumes its session");
  resumed.outputs.find((o) => o.transmit?.type === "resume_session").transmit.sessionkey = "0000";
  assert.match(replay(v) ?? "", /^sdk step \d+/);
});

/** A core that is ready (initialized, settings loaded) at time 0, and its controller. */
function readyPair() {
  const sdk = new Sdk(defaultSdkConfig());
  const app = new Controller({ group_id: 19921, custom_ui: true });
  app.handleInput({ user: "launch" });
  for (let o = app.pollOutput(); o; o = app.pollOutput()) if ("call" in o) sdk.handleInput(0, { api: o.call });
  sdk.handleInput(1, { frame: { type: "settings", v: 1, key_length: 4 } });
  for (let o = sdk.pollOutput(); !("timeout" in o); o = sdk.pollOutput()) {
    if ("event" in o) app.handleInput({ event: o.event });
  }
  while (app.pollOutput() !== undefined);
  return { sdk, app };
}

const restoreRefused = (kind) => (e) =>
  e instanceof Error && e.name === "RestoreError" && e.kind === kind && e.message.length > 0;

test("snapshot and restore: a ready core and its controller come back", () => {
  const fresh = new Sdk();
  assert.equal(fresh.snapshot(0), undefined, "nothing to keep before init");
  assert.equal(new Controller().snapshot(), undefined, "nothing to keep before launch");
  fresh.free();
  const { sdk, app } = readyPair();
  const json = sdk.snapshot(1_000);
  assert.equal(typeof json, "string");
  assert.equal(JSON.parse(json).saved_at_unix_ms, 1_000);
  const next = Sdk.restore(defaultSdkConfig(), json, 19921, 0, 2_000);
  assert.deepEqual(next.lastRows(), ["S-R03"]);
  assert.deepEqual(next.pollOutput(), { connect: {} });
  assert.deepEqual(next.pollOutput(), { event: { type: "connection_warning" } });
  assert.ok("timeout" in next.pollOutput());
  const c = Controller.restore({ group_id: 19921, custom_ui: true }, app.snapshot(), next);
  assert.deepEqual(c.lastRows(), ["C-R01"]);
  assert.deepEqual(c.pollOutput(), { ui: { show: "cobrowse_button" } });
  // the restored core stays the caller's
  next.handleInput(10, { network: "restored" });
  assert.equal(next.pollOutput().event.type, "clear_warning");
  for (const o of [sdk, app, next, c]) o.free();
});

test("a snapshot of another group is refused with RestoreError group_id, nothing restored", () => {
  const { sdk, app } = readyPair();
  const json = sdk.snapshot(1_000);
  assert.throws(() => Sdk.restore(defaultSdkConfig(), json, 7, 0, 2_000), restoreRefused("group_id"));
  const restored = Sdk.restore(defaultSdkConfig(), json, 19921, 0, 2_000);
  assert.throws(() => Controller.restore({ group_id: 7, custom_ui: true }, app.snapshot(), restored),
    restoreRefused("group_id"));
  // the core given to the refused controller restore is untouched
  assert.deepEqual(restored.pollOutput(), { connect: {} });
  for (const o of [sdk, app, restored]) o.free();
});

test("a truncated snapshot is refused with RestoreError corrupt", () => {
  const { sdk, app } = readyPair();
  const json = sdk.snapshot(1_000);
  for (const cut of [0, 10, json.length - 1]) {
    assert.throws(() => Sdk.restore(defaultSdkConfig(), json.slice(0, cut), 19921, 0, 2_000), restoreRefused("corrupt"));
  }
  const restored = Sdk.restore(defaultSdkConfig(), json, 19921, 0, 2_000);
  const mine = app.snapshot();
  assert.throws(() => Controller.restore({ group_id: 19921, custom_ui: true }, mine.slice(0, mine.length - 1), restored),
    restoreRefused("corrupt"));
  for (const o of [sdk, app, restored]) o.free();
});

test("a snapshot of another version is refused with RestoreError version", () => {
  const { sdk, app } = readyPair();
  const edit = (json) => JSON.stringify({ ...JSON.parse(json), crate_version: "0.0.0-other" });
  assert.throws(() => Sdk.restore(defaultSdkConfig(), edit(sdk.snapshot(1_000)), 19921, 0, 2_000), restoreRefused("version"));
  const restored = Sdk.restore(defaultSdkConfig(), sdk.snapshot(1_000), 19921, 0, 2_000);
  assert.throws(() => Controller.restore(undefined, edit(app.snapshot()), restored), restoreRefused("version"));
  for (const o of [sdk, app, restored]) o.free();
});

test("restore's unusable arguments are CobrowseError invalid_value", () => {
  const { sdk } = readyPair();
  const json = sdk.snapshot(1_000);
  const invalid = (e) => e instanceof Error && e.code === "invalid_value";
  assert.throws(() => Sdk.restore(defaultSdkConfig(), json, 2 ** 31, 0, 2_000), invalid);
  assert.throws(() => Sdk.restore(defaultSdkConfig(), json, 1.5, 0, 2_000), invalid);
  assert.throws(() => Sdk.restore(defaultSdkConfig(), json, 19921, -1, 2_000), invalid);
  assert.throws(() => Sdk.restore(defaultSdkConfig(), json, 19921, 0, NaN), invalid);
  assert.throws(() => Sdk.restore({ nonsense: true }, json, 19921, 0, 2_000), invalid);
  assert.throws(() => sdk.snapshot(-1), invalid);
  sdk.free();
});

test("refusals are thrown with the spec's code", () => {
  const sdk = new Sdk();
  assert.throws(() => sdk.handleInput(0, { api: { call: "start_session", key: "GLANCE_KEYTYPE_RANDOM" } }),
    (e) => e instanceof Error && e.code === "not_initialized");
  assert.deepEqual(sdk.pollOutput(), { event: { type: "invalid_state", call: "start_session", code: "not_initialized" } });
  sdk.free();
});

// The pre-login manual session, one click on the Cobrowse button, as an SDK author writes it:
// the app's controller and the SDK core, a fake transport, the clock passed in.
test("journey: pre-login manual session, accepted by the agent", () => {
  const sdk = new Sdk(defaultSdkConfig());
  const app = new Controller({ group_id: 19921, custom_ui: true });
  const sent = [], ui = [], events = [];
  let now = 0;
  const drainSdk = () => {
    for (;;) {
      const o = sdk.pollOutput();
      if ("timeout" in o) return o.timeout;
      if ("transmit" in o) sent.push(JSON.parse(encodeClientFrame(o.transmit)));
      if ("event" in o) { events.push(o.event); app.handleInput({ event: o.event }); drainApp(); }
    }
  };
  const drainApp = () => {
    for (let o = app.pollOutput(); o; o = app.pollOutput()) {
      if ("ui" in o) ui.push(o.ui);
      if ("call" in o) { sdk.handleInput(now, { api: o.call }); drainSdk(); }
    }
  };
  const user = (intent) => { app.handleInput({ user: intent }); drainApp(); };
  const server = (frame) => { sdk.handleBytes(now, new TextEncoder().encode(JSON.stringify(frame))); drainSdk(); };

  user("launch");
  assert.equal(sent.at(-1).type, "init");
  server({ type: "settings", v: 1, key_length: 4 });
  assert.deepEqual(ui.at(-1), { show: "cobrowse_button" });
  user("tap_cobrowse");
  assert.deepEqual(sent.at(-1), { type: "start_session", key: null });
  now = 40;
  server({ type: "session_started", sessionkey: "4821" });
  assert.deepEqual(events.at(-1), { type: "connected_to_session", sessionkey: "4821", keytype: "random" });
  assert.ok(ui.some((d) => d.show === "session_key" && d.key === "4821"), JSON.stringify(ui));
  server({ type: "guest_count", guestcount: 1 });
  assert.deepEqual(events.at(-1), { type: "guest_count_change", guestcount: 1 });
  now = 30_040;
  server({ type: "session_ended", reason: "agent_ended" });
  assert.deepEqual(events.at(-1), { type: "session_ended", reason: "agent_ended" });
  assert.equal(sdk.state().phase.ready.session, "idle");
  sdk.free(); app.free();
});

test("journey: one-click, terms accepted, the key never shown", () => {
  const sdk = new Sdk(defaultSdkConfig());
  const app = new Controller({ group_id: 19921, custom_ui: true });
  const sent = [], ui = [], events = [];
  const drainSdk = () => {
    for (;;) {
      const o = sdk.pollOutput();
      if ("timeout" in o) return;
      if ("transmit" in o) sent.push(JSON.parse(encodeClientFrame(o.transmit)));
      if ("event" in o) { events.push(o.event); app.handleInput({ event: o.event }); drainApp(); }
    }
  };
  const drainApp = () => {
    for (let o = app.pollOutput(); o; o = app.pollOutput()) {
      if ("ui" in o) ui.push(o.ui);
      if ("call" in o) { sdk.handleInput(0, { api: o.call }); drainSdk(); }
    }
  };
  const user = (intent) => { app.handleInput({ user: intent }); drainApp(); };
  const server = (frame) => { sdk.handleBytes(0, new TextEncoder().encode(JSON.stringify(frame))); drainSdk(); };

  user("launch");
  server({ type: "settings", v: 1, key_length: 4 });
  user({ login: { visitor_id: "cust-42" } });
  assert.equal(sent.at(-1).visitor_id, "cust-42");
  server({ type: "settings", v: 1, key_length: 4 });
  assert.deepEqual(sent.at(-1), { type: "presence_connect", visitor_id: "cust-42" });
  server({ type: "presence_connected" });
  server({ type: "presence_show_terms", request_id: 7 });
  assert.ok(ui.some((d) => d.show === "terms"), JSON.stringify(ui));
  assert.deepEqual(sent.at(-1).map, { status: "displayed" });
  user("accept_terms");
  assert.deepEqual(sent.at(-2).map, { status: "accepted" });
  assert.deepEqual(sent.at(-1), { type: "start_session", key: "cust-42" });
  server({ type: "session_started", sessionkey: "cust-42" });
  assert.deepEqual(events.at(-1), { type: "connected_to_session", sessionkey: "cust-42", keytype: "visitor_id" });
  assert.ok(ui.some((d) => d.show === "session_indicator"), JSON.stringify(ui));
  assert.ok(!ui.some((d) => d.show === "session_key"), JSON.stringify(ui));
  sdk.free(); app.free();
});
