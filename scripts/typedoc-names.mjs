// TypeDoc plugin (docs only): names the two entry points by their import specifiers, `ttsav` and `ttsav/queue`,
// instead of their file names (`index`, `queue`), without a `@module` tag in lib/.
import { Converter } from 'typedoc';

const NAMES = { index: 'ttsav', queue: 'ttsav/queue' };

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.children ?? []) if (NAMES[mod.name]) mod.name = NAMES[mod.name];
  });
}
