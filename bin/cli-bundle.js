// The CLI runs from one bundle of its TypeScript (dist/cli/), built with esbuild (what tsx runs on)
// and rebuilt as soon as a file it was built from changes. Through tsx's loader hooks every start
// cost about 0.4 s more: each of the hundreds of modules it loads, node_modules included, crossed to
// the hooks' thread and back. Packages stay outside the bundle and load as Node loads them.
//
// dist/cli/manifest.json names the current build's directory and the modification time of every file
// it was built from. A build goes to a directory of its own and the manifest is replaced in one
// rename, so processes that start at once, or run while another rebuilds, each load a complete build.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const outRoot = path.join(root, 'dist', 'cli')
const manifestFile = path.join(outRoot, 'manifest.json')
/** Builds no longer named by the manifest are removed after this long (a process may still load their chunks). */
const keepOldMs = 60 * 60 * 1000

const mtime = (file) => {
  try {
    return statSync(path.join(root, file)).mtimeMs
  } catch {
    return -1
  }
}

function currentBuild() {
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'))
    const fresh = Object.entries(manifest.inputs).every(([file, time]) => mtime(file) === time)
    return fresh ? path.join(outRoot, manifest.dir, 'cli.js') : undefined
  } catch {
    return undefined
  }
}

async function build() {
  const { build: esbuild } = await import('esbuild')
  mkdirSync(outRoot, { recursive: true })
  const dir = `build-${Date.now().toString(36)}-${process.pid}`
  const { metafile } = await esbuild({
    entryPoints: { cli: path.join(root, 'src/cli.ts') },
    outdir: path.join(outRoot, dir),
    absWorkingDir: root,
    bundle: true,
    splitting: true, // commands load what they need when they run, as from the sources
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    keepNames: true,
    sourcemap: true,
    metafile: true,
    logLevel: 'silent',
  })
  const inputs = Object.fromEntries(Object.keys(metafile.inputs).map((file) => [file, mtime(file)]))
  const temporary = `${manifestFile}.${process.pid}`
  writeFileSync(temporary, JSON.stringify({ dir, inputs }))
  renameSync(temporary, manifestFile)
  for (const old of readdirSync(outRoot)) {
    if (old === dir || !old.startsWith('build-')) continue
    const full = path.join(outRoot, old)
    if (Date.now() - statSync(full).mtimeMs > keepOldMs) rmSync(full, { recursive: true, force: true })
  }
  return path.join(outRoot, dir, 'cli.js')
}

/** Imports the CLI: from the current bundle, built first if needed; from the sources through tsx if it cannot be built. */
export async function importCli() {
  let entry = currentBuild()
  if (!entry) {
    try {
      entry = await build()
    } catch (err) {
      console.error(`haithe: running the sources through tsx, as bundling them failed: ${err instanceof Error ? err.message.split('\n')[0] : err}`)
    }
  }
  if (entry) {
    // Stack traces name the TypeScript sources.
    process.setSourceMapsEnabled(true)
    return import(pathToFileURL(entry).href)
  }
  const { register } = await import('tsx/esm/api')
  register()
  return import('../src/cli.ts')
}
