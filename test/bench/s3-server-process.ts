// The loopback S3 server in a process of its own, so that a benchmark's client and the server do not share one
// JavaScript thread. Prints the endpoint on its first stdout line; stops when stdin closes.
import {startS3Server} from '../helpers/s3-server.js'

const server = await startS3Server()
process.stdout.write(server.endpoint + '\n')
process.stdin.resume()
process.stdin.on('end', () => void server.stop().then(() => process.exit(0)))
