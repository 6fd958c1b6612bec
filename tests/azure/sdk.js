// The official Azure SDK (@azure/storage-blob) as a second, independent client for the interop
// tests and for creating the test container. Connection string in env AZ_CONN.
//   node sdk.js create-container NAME          (exists already -> fine)
//   node sdk.js put CONTAINER BLOB FILE        upload FILE's bytes as a block blob
//   node sdk.js get CONTAINER BLOB             the blob's bytes on stdout
//   node sdk.js content-type CONTAINER BLOB    the blob's Content-Type on stdout
//   node sdk.js sas CONTAINER                  a container SAS query string on stdout
// Module path: NODE_PATH must point at the cached node_modules (tests/servers/azurite.sh).
'use strict';
const fs = require('fs');
const { BlobServiceClient } = require('@azure/storage-blob');

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  const conn = process.env.AZ_CONN;
  if (!conn) throw new Error('AZ_CONN is not set');
  const service = BlobServiceClient.fromConnectionString(conn);
  switch (cmd) {
    case 'create-container':
      await service.getContainerClient(args[0]).createIfNotExists();
      return;
    case 'put': {
      const bytes = fs.readFileSync(args[2]);
      await service.getContainerClient(args[0]).getBlockBlobClient(args[1])
        .upload(bytes, bytes.length, { blobHTTPHeaders: { blobContentType: 'application/json' } });
      return;
    }
    case 'get': {
      const buf = await service.getContainerClient(args[0]).getBlobClient(args[1]).downloadToBuffer();
      process.stdout.write(buf);
      return;
    }
    case 'content-type': {
      const p = await service.getContainerClient(args[0]).getBlobClient(args[1]).getProperties();
      process.stdout.write(String(p.contentType));
      return;
    }
    case 'sas': {
      // A container SAS (read, add, create, write, delete, list) valid for an hour.
      const { ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } =
        require('@azure/storage-blob');
      const m = /AccountName=([^;]+);AccountKey=([^;]+);/.exec(conn);
      const cred = new StorageSharedKeyCredential(m[1], m[2]);
      const sas = generateBlobSASQueryParameters({
        containerName: args[0], permissions: ContainerSASPermissions.parse('racwdl'),
        startsOn: new Date(Date.now() - 60000), expiresOn: new Date(Date.now() + 3600000),
      }, cred).toString();
      process.stdout.write(sas);
      return;
    }
    default:
      throw new Error('unknown command ' + cmd);
  }
}

main().catch((e) => {
  // The SDK's error carries the request; print only its code and status, never headers.
  console.error(`sdk.js: ${e.code || e.name} ${e.statusCode || ''}`);
  process.exit(1);
});
