import { access, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Saved VM images, one file per VM: `<dir>/<vm>.save`. xl and virsh forget a domain once it is
 * saved, so these files are how the agent knows which sleeping VMs its node holds. A remote
 * resume reads the image from the same path, which requires the directory to be shared storage.
 */
export interface ImageStore {
  pathOf(vm: string): string;
  /** The path to save `vm` to, creating the directory first (a fresh node has none). */
  pathToSave(vm: string): Promise<string>;
  has(vm: string): Promise<boolean>;
  list(): Promise<string[]>;
  remove(vm: string): Promise<void>;
}

export const DEFAULT_IMAGE_DIR = '/var/lib/entropy/images';
const SUFFIX = '.save';

export function imageStore(dir: string = DEFAULT_IMAGE_DIR): ImageStore {
  const pathOf = (vm: string) => join(dir, `${vm}${SUFFIX}`);
  return {
    pathOf,
    pathToSave: async (vm) => {
      await mkdir(dir, { recursive: true });
      return pathOf(vm);
    },
    has: (vm) => access(pathOf(vm)).then(() => true, () => false),
    async list() {
      const names = await readdir(dir).catch(() => [] as string[]);
      return names.filter((n) => n.endsWith(SUFFIX) && n.length > SUFFIX.length).map((n) => n.slice(0, -SUFFIX.length));
    },
    remove: (vm) => unlink(pathOf(vm)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    }),
  };
}
