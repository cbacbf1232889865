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
  /** FFmpeg's own version string (e.g. '5.1.9-0+deb12u1', '7.1.5'). */
  ffmpeg: string;
  /** Which FFmpeg the addon links: 'bundled' (static, from scripts/build-ffmpeg.sh) or 'system' (pkg-config). */
  build: 'bundled' | 'system';
  /** FFmpeg's license as it reports it (e.g. 'LGPL version 3 or later' for the bundled build). */
  license: string;
  /** FFmpeg's ./configure flags. */
  configuration: string;
  libraries: { avutil: LibraryVersion; avcodec: LibraryVersion; avformat: LibraryVersion; avfilter: LibraryVersion; swresample: LibraryVersion };
  /** Node-API version the addon targets. */
  napi: number;
}

/** Versions of ttsav and of each libav library, compiled and at run time. */
export function versions(): Versions {
  const v = loadNative().versions();
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return {
    ttsav: pkg.version,
    ffmpeg: v.ffmpeg,
    build: v.bundled ? 'bundled' : 'system',
    license: v.license,
    configuration: v.configuration,
    libraries: v.libraries as unknown as Versions['libraries'],
    napi: v.napi,
  };
}
