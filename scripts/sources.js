// Prints native/sources.txt as one space-separated line, for binding.gyp's command expansion.
'use strict';
const fs = require('fs');
const path = require('path');
const text = fs.readFileSync(path.join(__dirname, '..', 'native', 'sources.txt'), 'utf8');
const files = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
process.stdout.write(files.join(' '));
