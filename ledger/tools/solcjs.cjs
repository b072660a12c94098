#!/usr/bin/env node
// A `solc` look-alike over the npm solc-js (WebAssembly) compiler, for machines
// where no native solc can be installed. py-solc-x accepts it as `solc_binary`:
// it answers `--version` and `--standard-json` (input on stdin), and ignores the
// path flags py-solc-x may add, because imports are resolved here instead:
// `@scope/pkg/...` from node_modules, anything else relative to the base path.
'use strict';
const fs = require('fs');
const path = require('path');

function nodeModulesDir() {
  if (process.env.SCF_NODE_MODULES) return process.env.SCF_NODE_MODULES;
  // ledger/tools/solcjs.cjs -> <repo>/node_modules
  return path.resolve(__dirname, '..', '..', 'node_modules');
}

const solc = require(path.join(nodeModulesDir(), 'solc'));
const args = process.argv.slice(2);

function argValue(flag) {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
}

if (args.includes('--version')) {
  process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
  process.exitCode = 0;
} else if (args.includes('--standard-json')) {
  const basePath = argValue('--base-path') || process.cwd();
  const input = fs.readFileSync(0, 'utf8');
  const findImports = (importPath) => {
    const candidates = [];
    if (importPath.startsWith('@')) candidates.push(path.join(nodeModulesDir(), importPath));
    candidates.push(path.resolve(basePath, importPath));
    candidates.push(path.join(nodeModulesDir(), importPath));
    for (const file of candidates) {
      if (fs.existsSync(file)) return { contents: fs.readFileSync(file, 'utf8') };
    }
    return { error: 'File not found: ' + importPath };
  };
  const output = solc.compile(input, { import: findImports });
  // Never process.exit() here: it truncates a piped stdout beyond 64 KiB.
  process.stdout.write(output);
  process.exitCode = 0;
} else {
  process.stderr.write('solcjs adapter: only --version and --standard-json are supported\n');
  process.exitCode = 2;
}
