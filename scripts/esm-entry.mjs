// Writes dist/index.mjs (an ES module re-exporting the CommonJS build's names) and dist/index.d.mts, so that
// `import { transcode } from 'ttsav'` and `require('ttsav')` share one implementation and one addon instance.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const cjs = require('../dist/index.js');
const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
const esm = `import cjs from './index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`;
writeFileSync(new URL('../dist/index.mjs', import.meta.url), esm);
// The default export is the whole module object, typed as such (`import ttsav from 'ttsav'`).
writeFileSync(
  new URL('../dist/index.d.mts', import.meta.url),
  "import * as ttsav from './index.js';\nexport * from './index.js';\nexport default ttsav;\n",
);
console.log(`dist/index.mjs: ${names.join(', ')}`);
