// Runs s3rver 3.x (filesystem-backed; it refuses an access key other than S3RVER, though it does not check the signature itself) on a free loopback port in its own process,
// started with --openssl-legacy-provider (its paginated listings hash with MD4, which OpenSSL 3 keeps out by default).
// Prints `{"port":N}` on stdout once listening; stops on SIGTERM or when stdin closes (the test process died).
const S3rver = require('s3rver')

const directory = process.argv[2]
const server = new S3rver({address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false})
server.run().then(
  ({port}) => process.stdout.write(JSON.stringify({port}) + '\n'),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
const stop = () => server.close().finally(() => process.exit(0))
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.resume()
