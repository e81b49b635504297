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

  it("keeps each node its own subdirectory of a shared directory: a node lists its own images, and reads another holder's", async () => {
    root = await mkdtemp(join(tmpdir(), 'entropy-images-'));
    const n1 = imageStore(root, { sharedBy: 'n1' });
    const n2 = imageStore(root, { sharedBy: 'n2' });
    await writeFile(await n1.pathToSave('vm-1'), 'image');
    expect(await n1.list()).toEqual(['vm-1']);
    expect(await n2.list()).toEqual([]);
    expect(n2.pathOf('vm-1', 'n1')).toBe(join(root, 'n1', 'vm-1.save'));
    expect(await n2.has('vm-1', 'n1')).toBe(true);
    expect(await n2.has('vm-1')).toBe(false);
    await n2.remove('vm-1', 'n1');
    expect(await n1.list()).toEqual([]);
  });
});
