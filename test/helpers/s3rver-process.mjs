// Runs s3rver in its own process (started by test/global-setup.ts with
// `node --openssl-legacy-provider`, because s3rver's list continuation tokens use DES).
// Unpatched, so the suite sees what users of a hand-started s3rver see (its Delimiter
// listings miss folders that hold only sub-folders: lakeloop does not rely on them).
// Prints one line `LISTENING <port>` when ready; exits when stdin closes (parent gone).
import S3rver from 's3rver';
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
