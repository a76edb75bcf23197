/**
 * The generated R4 validator (7.5 MB of pure functions), loaded by Node's own loader: once per jest worker instead of
 * once per test file in each file's module registry (jest.config.js maps `generated/r4-validator.js` here). The
 * server itself loads the same file once per process; only the test runner keeps a registry per file.
 */
const path = require('node:path');
const { _load: load } = require('node:module');

module.exports = load(path.join(__dirname, '..', '..', '..', 'generated', 'r4-validator.js'), null, false);
