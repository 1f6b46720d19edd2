'use strict'
// A read-only npm registry on 127.0.0.1 that serves a few package tarballs, so that npm, pnpm and
// Yarn install them as they install from npmjs.com: from metadata (with `os`, `cpu` and `libc`,
// which is what makes a package manager pick one platform package among the optional ones) and
// tarballs checked against `dist.integrity`. Nothing else is served: a request for another package
// gets 404, as the public registry answers for a name it does not know.
//
//   const registry = await startLocalRegistry([mainTgz, platformTgz, ...])
//   t.after(() => registry.close())
//   // npm install --registry registry.url ...

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

/** package/package.json of a tarball. */
function manifestOf (file) {
  const result = spawnSync('tar', ['xzOf', file, 'package/package.json'], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`cannot read package.json from ${file}: ${result.stderr}`)
  return JSON.parse(result.stdout)
}

/**
 * Starts the registry. `tarballs`: paths of .tgz files (one version of each package).
 * Returns { url, close(), requests } (`requests`: the paths asked for, in order).
 */
async function startLocalRegistry (tarballs) {
  const packages = new Map()
  for (const file of tarballs) {
    const manifest = manifestOf(file)
    const data = fs.readFileSync(file)
    packages.set(manifest.name, {
      manifest,
      data,
      file: path.basename(file),
      shasum: crypto.createHash('sha1').update(data).digest('hex'),
      integrity: 'sha512-' + crypto.createHash('sha512').update(data).digest('base64')
    })
  }
  const requests = []
  let base = ''
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url.split('?')[0])
    requests.push(url)
    const tarball = url.match(/^\/(.+)\/-\/([^/]+\.tgz)$/)
    if (tarball) {
      const pkg = packages.get(tarball[1])
      if (!pkg || pkg.file !== tarball[2]) return notFound(res)
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': pkg.data.length })
      return res.end(pkg.data)
    }
    const pkg = packages.get(url.slice(1))
    if (!pkg) return notFound(res)
    const { version } = pkg.manifest
    const body = JSON.stringify({
      name: pkg.manifest.name,
      'dist-tags': { latest: version },
      versions: {
        [version]: {
          ...pkg.manifest,
          _id: `${pkg.manifest.name}@${version}`,
          dist: { tarball: `${base}/${pkg.manifest.name}/-/${pkg.file}`, shasum: pkg.shasum, integrity: pkg.integrity }
        }
      },
      time: { [version]: new Date(0).toISOString() }
    })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  base = `http://127.0.0.1:${server.address().port}`
  return {
    url: base + '/',
    requests,
    close: () => new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}

function notFound (res) {
  const body = JSON.stringify({ error: 'Not found' })
  res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

module.exports = { startLocalRegistry, manifestOf }
