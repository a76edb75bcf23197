/**
 * Preloaded into the server by bench/scale.ts (`node --require`): SIGUSR2 runs a full garbage collection, so the
 * harness can read the RSS of live data apart from garbage not yet collected. Nothing else changes.
 */
'use strict';
const v8 = require('node:v8');
const vm = require('node:vm');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
process.on('SIGUSR2', () => gc());
