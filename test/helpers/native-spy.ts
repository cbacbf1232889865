/** Counts calls into the addon's transcode(), to prove that some rejections happen before any native work. */
import { vi } from 'vitest';
import { loadNative } from '../../lib/native';

export function spyOnNativeTranscode(): { calls: () => number; restore: () => void } {
  const binding = loadNative();
  const spy = vi.spyOn(binding, 'transcode');
  return { calls: () => spy.mock.calls.length, restore: () => spy.mockRestore() };
}
