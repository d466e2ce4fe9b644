#!/usr/bin/env node
// Runs the real @openzeppelin/merkle-tree on a tree so the Rust crate `claystack-merkle`
// can be checked against it (crates/merkle/tests/openzeppelin.rs).
//
//   node oz-tree.mjs load <dump.json> [sets.json]   StandardMerkleTree.load of a standard-v1 dump
//   node oz-tree.mjs of <input.json> [sets.json]    StandardMerkleTree.of of {"leafEncoding": [...], "values": [[...], ...]}
//
// Prints one JSON object: {"root": "0x..", "proofs": [[...] for each value in order], "dump": {...},
// "multiProofs": [getMultiProof(set) for each set of value indices in sets.json]}.
import { readFileSync } from 'node:fs';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';

const [mode, path, setsPath] = process.argv.slice(2);
if (!['load', 'of'].includes(mode) || !path) {
  console.error('usage: node oz-tree.mjs load <dump.json> [sets.json] | of <input.json> [sets.json]');
  process.exit(2);
}
const input = JSON.parse(readFileSync(path, 'utf8'));
const tree = mode === 'load' ? StandardMerkleTree.load(input) : StandardMerkleTree.of(input.values, input.leafEncoding);
const proofs = [];
for (const [i] of tree.entries()) {
  proofs.push(tree.getProof(i));
}
const sets = setsPath ? JSON.parse(readFileSync(setsPath, 'utf8')) : [];
const multiProofs = sets.map(set => tree.getMultiProof(set));
process.stdout.write(JSON.stringify({ root: tree.root, proofs, dump: tree.dump(), multiProofs }) + '\n');
