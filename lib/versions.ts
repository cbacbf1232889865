import { loadNative, packageRoot } from './native';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface LibraryVersion {
  /** Version the addon was compiled against (headers). */
  compiled: string;
  /** Version loaded at run time. */
  runtime: string;
  /** Same major, runtime minor >= compiled minor. The addon refuses to load otherwise. */
  compatible: boolean;
}

export interface Versions {
  ttsav: string;
  /** FFmpeg's own version string (e.g. '5.1.9-0+deb12u1'). */
  ffmpeg: string;
  libraries: { avutil: LibraryVersion; avcodec: LibraryVersion; avformat: LibraryVersion; avfilter: LibraryVersion; swresample: LibraryVersion };
  /** Node-API version the addon targets. */
  napi: number;
}

/** Versions of ttsav and of each libav library, compiled and at run time. */
export function versions(): Versions {
  const v = loadNative().versions();
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return { ttsav: pkg.version, ffmpeg: v.ffmpeg, libraries: v.libraries as unknown as Versions['libraries'], napi: v.napi };
}
