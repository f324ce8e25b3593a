// Runs a real Bluesky PDS (@atproto/pds) for the end-to-end tests, with a PLC
// directory of its own (@did-plc/server, keeping its operations in memory),
// both on 127.0.0.1 and nothing else reached over the network.
//
//   node start.mjs DATA_DIR        (or CLOUT_PDS_DATA=DATA_DIR node start.mjs)
//
// The PDS keeps its databases and blobs under DATA_DIR (made if missing) and
// logs to DATA_DIR/pds.log. Accounts need no invite code and take handles
// under `.test` (alice.test). When both servers listen, one JSON line goes to
// standard output:
//
//   {"url":"http://127.0.0.1:PORT","plc":"http://127.0.0.1:PORT",...}
//
// It exits when its standard input closes (so a test that dies leaves nothing
// running: keep a pipe to it open) and on SIGTERM, SIGINT or SIGHUP.
//
// scripts/pds.sh installs the packages and copies this file beside them;
// run the copy it names, with the node binary it names (Node 22 or later).

import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(import.meta.url)

function fail(message) {
  process.stderr.write(`start.mjs: ${message}\n`)
  process.exit(1)
}

function exitWhenAsked() {
  const quit = () => process.exit(0)
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, quit)
  process.stdin.on('end', quit)
  process.stdin.on('close', quit)
  process.stdin.on('error', quit)
  process.stdin.resume()
}

// A server on 127.0.0.1 with a port the kernel chose, listening before any
// handler is attached: the port is known (and held) before the PDS is made
// with it, so no other process can take it in between.
async function listen() {
  const server = http.createServer()
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  return { server, port: server.address().port }
}

function versionOf(pkg) {
  const file = path.join(import.meta.dirname, 'node_modules', pkg, 'package.json')
  return JSON.parse(readFileSync(file, 'utf8')).version
}

async function main() {
  exitWhenAsked()
  const dataDir = path.resolve(process.argv[2] || process.env.CLOUT_PDS_DATA || fail('give the data directory'))
  const blobs = path.join(dataDir, 'blobs')
  mkdirSync(blobs, { recursive: true })

  // The PLC directory: the real server's routes and checks of each signed
  // operation, with its in-memory store instead of PostgreSQL.
  const plcPkg = require('@did-plc/server')
  const plcServer = plcPkg.PlcServer.create({ db: plcPkg.Database.mock() })
  const plc = await listen()
  plc.server.on('request', plcServer.app)
  // A name, not an address: the PDS's DID resolver refuses URLs whose host is
  // an IP address. (It listens on 127.0.0.1, where localhost points.)
  const plcUrl = `http://localhost:${plc.port}`

  const pds = await listen()
  const adminPassword = randomBytes(16).toString('hex')
  // The PDS and its logger read these when they are loaded, so they are set
  // before the import below.
  Object.assign(process.env, {
    PDS_HOSTNAME: 'localhost',
    PDS_PORT: String(pds.port),
    PDS_DEV_MODE: 'true',
    PDS_DATA_DIRECTORY: dataDir,
    PDS_BLOBSTORE_DISK_LOCATION: blobs,
    PDS_DID_PLC_URL: plcUrl,
    PDS_INVITE_REQUIRED: 'false',
    PDS_SERVICE_HANDLE_DOMAINS: '.test',
    PDS_JWT_SECRET: randomBytes(32).toString('hex'),
    PDS_ADMIN_PASSWORD: adminPassword,
    // A secp256k1 private key: 32 random bytes (below the group order but
    // with a chance of about 2^-128).
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: randomBytes(32).toString('hex'),
    PDS_CRAWLERS: '',
    LOG_ENABLED: 'true',
    LOG_LEVEL: process.env.LOG_LEVEL || 'info',
    LOG_DESTINATION: path.join(dataDir, 'pds.log'),
  })
  for (const name of ['PDS_BSKY_APP_VIEW_URL', 'PDS_BSKY_APP_VIEW_DID', 'PDS_EMAIL_SMTP_URL']) {
    delete process.env[name]
  }
  const { PDS, envToCfg, envToSecrets, readEnv } = await import('@atproto/pds')
  const env = readEnv()
  const server = await PDS.create(envToCfg(env), envToSecrets(env))
  // What PDS.start does, but on the listener above (127.0.0.1 only) rather
  // than on every interface.
  await server.ctx.sequencer.start()
  pds.server.keepAliveTimeout = 90_000
  pds.server.on('request', server.app)

  const ready = {
    url: `http://127.0.0.1:${pds.port}`,
    plc: plcUrl,
    hostname: 'localhost',
    handle_domain: '.test',
    admin_password: adminPassword,
    log: path.join(dataDir, 'pds.log'),
    pds_version: versionOf('@atproto/pds'),
    plc_version: versionOf('@did-plc/server'),
    node: process.version,
  }
  process.stdout.write(`${JSON.stringify(ready)}\n`)
}

main().catch((e) => fail(e?.stack || String(e)))
