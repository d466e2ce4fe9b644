#!/usr/bin/env node
// Writes the ABI and bytecode of the deployable contracts from forge's out/ into one JSON file
// each, in the Foundry artifact shape that alloy's `sol!` (json feature) and `ContractObject`
// read: {"contractName", "abi", "bytecode": {"object"}, "deployedBytecode": {"object"}}.
// Deterministic: fixed key order, 2-space indent, trailing newline; the bytecode carries no
// metadata hash (foundry.toml: bytecode_hash = "none", cbor_metadata = false).
//
//   node artifacts.mjs <forge out dir> <target dir>
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CONTRACTS = [
  'NodeManager',
  'OperatorRegistry',
  'MockCsETH',
  'RewardsVault',
  'RewardsGovernance',
  'MockAggregatorV3',
  'WithdrawalQueue',
];

const [outDir, targetDir] = process.argv.slice(2);
if (!outDir || !targetDir) {
  console.error('usage: node artifacts.mjs <forge out dir> <target dir>');
  process.exit(2);
}
mkdirSync(targetDir, { recursive: true });
for (const name of CONTRACTS) {
  const forge = JSON.parse(readFileSync(join(outDir, `${name}.sol`, `${name}.json`), 'utf8'));
  const artifact = {
    contractName: name,
    abi: forge.abi,
    bytecode: { object: forge.bytecode.object },
    deployedBytecode: { object: forge.deployedBytecode.object },
  };
  writeFileSync(join(targetDir, `${name}.json`), JSON.stringify(artifact, null, 2) + '\n');
}
