// A loopback S3 server in a process of its own, so that a benchmark's client and the server do not share one
// JavaScript thread: `fauxqs` (the test server, the default) or `indexed` (listing-server.ts, listings at S3's cost).
// Prints the endpoint on its first stdout line; stops when stdin closes.
import {startListingServer} from './listing-server.js'
import {startS3Server} from '../test/helpers/s3-server.js'

const kind = process.argv[2] ?? 'fauxqs'
if (kind !== 'fauxqs' && kind !== 'indexed') throw new Error(`unknown server ${kind}: fauxqs or indexed`)
const server = kind === 'indexed' ? await startListingServer() : await startS3Server()
process.stdout.write(server.endpoint + '\n')
process.stdin.resume()
process.stdin.on('end', () => void server.stop().then(() => process.exit(0)))
