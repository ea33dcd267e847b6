// Runs s3rver in its own process (started by test/global-setup.ts with
// `node --openssl-legacy-provider`, because s3rver's list continuation tokens use DES).
// Prints one line `LISTENING <port>` when ready; exits when stdin closes (parent gone).
import S3rver from 's3rver';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';

// s3rver 3.7.1 misses a common prefix (Delimiter '/') when all its objects sit more than
// one level deeper (`a/` for `a/y/deep/3`): it prunes those directories before seeing a
// key. Real S3 and MinIO report it. Group the full listing here instead, as S3 does
// (without paging prefixes: tests never list more than 1,000 of them).
const listObjects = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function listObjectsLikeS3(bucket, options) {
  if (!options.delimiter) return listObjects.call(this, bucket, options);
  const { delimiter, prefix = '' } = options;
  const all = await listObjects.call(this, bucket, { ...options, delimiter: undefined, maxKeys: Infinity });
  const commonPrefixes = new Set();
  const objects = [];
  for (const object of all.objects) {
    const index = object.key.slice(prefix.length).indexOf(delimiter);
    if (index === -1) objects.push(object);
    else commonPrefixes.add(object.key.slice(0, prefix.length + index + 1));
  }
  return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated: false };
};

const directory = process.argv[2];
if (!directory) {
  process.stderr.write('usage: s3rver-process.mjs <directory>\n');
  process.exit(2);
}
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
const address = await server.run();
process.stdout.write(`LISTENING ${address.port}\n`);
const stop = () => {
  server.close().finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
