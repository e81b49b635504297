import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { imageStore } from '../src/drivers/image-store.ts';

describe('image store', () => {
  let root = '';
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('creates a missing image directory before the first save, and lists what was saved there', async () => {
    root = await mkdtemp(join(tmpdir(), 'entropy-images-'));
    const dir = join(root, 'var', 'lib', 'entropy', 'images');
    const images = imageStore(dir);
    expect(await images.list()).toEqual([]);
    const path = await images.pathToSave('vm-1');
    expect(path).toBe(join(dir, 'vm-1.save'));
    expect(existsSync(dir)).toBe(true);
    await writeFile(path, 'image');
    expect(await images.list()).toEqual(['vm-1']);
    expect(await images.has('vm-1')).toBe(true);
    await images.remove('vm-1');
    expect(await images.list()).toEqual([]);
  });
});
