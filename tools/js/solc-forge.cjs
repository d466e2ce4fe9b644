#!/usr/bin/env node
// A `solc` executable for forge, backed by solc-js (the npm `solc` package, pinned in
// package.json). forge cannot download a native solc on machines without internet; it
// accepts any executable in foundry.toml's `solc = "<path>"` that answers the two
// calls it makes:
//
//   solc-forge.cjs --version                      prints "Version: 0.8.28+commit.7893614a..."
//   solc-forge.cjs --standard-json [--base-path D] [--include-path D]... [--allow-paths ...]
//                                                 reads Standard JSON on stdin, writes Standard JSON
//
// forge puts every source's content into the input; the import callback only serves a file
// the input left out, read from the base or include paths.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const solc = require('solc');

const args = process.argv.slice(2);

if (args.includes('--version')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}

if (!args.includes('--standard-json')) {
  process.stderr.write('solc-forge: only --version and --standard-json are supported (this wraps solc-js for forge)\n');
  process.exit(2);
}

const roots = [];
for (let i = 0; i < args.length; i++) {
  if ((args[i] === '--base-path' || args[i] === '--include-path') && args[i + 1]) {
    roots.push(args[++i]);
  }
}
roots.push(process.cwd());

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.resolve(r, importPath));
  for (const file of candidates) {
    try {
      return { contents: fs.readFileSync(file, 'utf8') };
    } catch (_) {
      // try the next root
    }
  }
  return { error: `File not found: ${importPath} (looked in ${roots.join(', ')})` };
}

const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
