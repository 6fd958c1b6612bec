// Test support: runs firebase-tools' Cloud Storage emulator (it serves the GCS JSON API) on
// loopback WITHOUT its Java rules runtime, which cannot be fetched offline. The JSON API routes
// (/storage/v1, /upload/storage/v1, /download/storage/v1) use the emulator's admin storage layer,
// which never evaluates rules, so nothing the tests use needs the runtime.
// The emulator ignores ifGenerationMatch and Authorization: see precondition-proxy.js.
//
// usage: NODE_MODULES=<dir with firebase-tools> node emulator.js PORT [HOST]
// Give every instance its own TMPDIR: the emulator keeps blobs under $TMPDIR/firebase/storage and
// deletes that directory when it stops.
'use strict';
process.env.NO_UPDATE_NOTIFIER = '1';
const path = require('path');
const modules = process.env.NODE_MODULES;
if (!modules) {
  console.error('emulator.js: NODE_MODULES is not set');
  process.exit(2);
}
const tools = path.join(modules, 'firebase-tools/lib/emulator');
// Pinned to firebase-tools 15.34.2 internals (lib/emulator/storage, lib/emulator/registry).
const { StorageRulesRuntime } = require(path.join(tools, 'storage/rules/runtime'));
StorageRulesRuntime.prototype.start = async function () {}; // no jar download, no Java
StorageRulesRuntime.prototype.stop = async function () {};
const { StorageEmulator } = require(path.join(tools, 'storage'));
const { EmulatorRegistry } = require(path.join(tools, 'registry'));

const port = +process.argv[2];
if (!(port > 0)) {
  console.error('usage: emulator.js PORT [HOST] (tests/servers/gcs.sh picks a free PORT)');
  process.exit(2);
}
const host = process.argv[3] || '127.0.0.1';
const emu = new StorageEmulator({ projectId: 'demo-test', host, port, rules: undefined, auto_download: false });
emu._rulesManager = { start: async () => {}, stop: async () => {}, getRuleset: () => undefined, close: async () => {} };
EmulatorRegistry.start(emu).then(
  () => console.log(`gcs emulator listening on http://${host}:${port}`),
  (e) => { console.error(e); process.exit(1); });
const stop = () => EmulatorRegistry.stop(emu.getName()).finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
