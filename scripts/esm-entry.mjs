// Writes an ES module next to each CommonJS entry (dist/index.mjs, dist/queue/index.mjs) re-exporting its names,
// plus the .d.mts, so that `import { transcode } from 'ttsav'` and `require('ttsav')` share one implementation and
// one addon instance. ttsav/queue needs its optional peers (bullmq, ioredis) here, at build time: they are
// development dependencies.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
for (const entry of ['index', 'queue/index']) {
  const cjs = require(`../dist/${entry}.js`);
  const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
  const esm = `import cjs from './index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`;
  writeFileSync(new URL(`../dist/${entry}.mjs`, import.meta.url), esm);
  // The default export is the whole module object, typed as such (`import ttsav from 'ttsav'`).
  writeFileSync(
    new URL(`../dist/${entry}.d.mts`, import.meta.url),
    "import * as all from './index.js';\nexport * from './index.js';\nexport default all;\n",
  );
  console.log(`dist/${entry}.mjs: ${names.join(', ')}`);
}
