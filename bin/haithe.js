#!/usr/bin/env node
// The `haithe` command runs from the TypeScript sources through tsx, so a fresh clone needs
// no build step.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli.ts')
