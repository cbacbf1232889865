/** Counts calls into the addon's transcode() and queueSubmit() (the pool's native job queue), to prove that some
 *  rejections happen before any native work. */
import { vi } from 'vitest';
import { loadNative } from '../../lib/native';

export function spyOnNativeTranscode(): { calls: () => number; restore: () => void } {
  const binding = loadNative();
  const direct = vi.spyOn(binding, 'transcode');
  const queued = vi.spyOn(binding, 'queueSubmit');
  return {
    calls: () => direct.mock.calls.length + queued.mock.calls.length,
    restore: () => {
      direct.mockRestore();
      queued.mockRestore();
    },
  };
}
