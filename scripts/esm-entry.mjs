// Writes dist/index.mjs (an ES module re-exporting the CommonJS build's names) and dist/index.d.mts, so that
// `import { transcode } from 'ttsav'` and `require('ttsav')` share one implementation and one addon instance.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const cjs = require('../dist/index.js');
const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
const esm = `import cjs from './index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`;
writeFileSync(new URL('../dist/index.mjs', import.meta.url), esm);
writeFileSync(new URL('../dist/index.d.mts', import.meta.url), "export * from './index.js';\n");
console.log(`dist/index.mjs: ${names.join(', ')}`);
