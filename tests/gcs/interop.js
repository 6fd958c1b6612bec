// Interop with Google's own client library: @google-cloud/storage (STORAGE_EMULATOR_HOST must
// point at the emulator or the precondition proxy; no credentials are used then).
//   node interop.js download BUCKET NAME OUTFILE   write the object's bytes to OUTFILE
//   node interop.js upload BUCKET NAME INFILE      store INFILE's bytes (application/json)
// NODE_MODULES names the directory holding @google-cloud/storage (tests/servers/gcs.sh install).
'use strict';
const path = require('path');
const fs = require('fs');
const { Storage } = require(path.join(process.env.NODE_MODULES, '@google-cloud/storage'));

async function main() {
  const [op, bucket, name, file] = process.argv.slice(2);
  const storage = new Storage({ projectId: 'demo-test' });
  const object = storage.bucket(bucket).file(name);
  if (op === 'download') {
    const [bytes] = await object.download();
    fs.writeFileSync(file, bytes);
  } else if (op === 'upload') {
    await object.save(fs.readFileSync(file), { resumable: false, contentType: 'application/json' });
  } else {
    throw new Error(`unknown operation ${op}`);
  }
}
main().catch((e) => { console.error(`interop.js: ${e.message}`); process.exit(1); });
