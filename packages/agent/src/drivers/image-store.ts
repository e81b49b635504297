import { access, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Saved VM images, one file per VM: `<dir>/<vm>.save`. xl and virsh forget a domain once it is
 * saved, so these files are how the agent knows which sleeping VMs its node holds. A remote
 * resume reads the image from the same path, which requires the directory to be shared storage.
 *
 * When the directory is shared by every node (`shared` with the node's id), each node keeps its
 * images in `<dir>/<node>/`: a node lists only its own as its sleeping VMs, and a remote resume
 * reads the image from its holder's directory (`holder`, the request's `from`).
 */
export interface ImageStore {
  /** `holder`: the node that saved the image (shared layout only; this node when absent). */
  pathOf(vm: string, holder?: string): string;
  /** The path to save `vm` to, creating the directory first (a fresh node has none). */
  pathToSave(vm: string): Promise<string>;
  has(vm: string, holder?: string): Promise<boolean>;
  /** This node's images. */
  list(): Promise<string[]>;
  remove(vm: string, holder?: string): Promise<void>;
}

export const DEFAULT_IMAGE_DIR = '/var/lib/entropy/images';
const SUFFIX = '.save';

export interface ImageStoreOptions {
  /** This node's id when the directory is shared by every node: images go to `<dir>/<node>/`. */
  readonly sharedBy?: string;
}

export function imageStore(dir: string = DEFAULT_IMAGE_DIR, opts: ImageStoreOptions = {}): ImageStore {
  const node = opts.sharedBy;
  const dirOf = (holder?: string) => (node === undefined ? dir : join(dir, holder ?? node));
  const pathOf = (vm: string, holder?: string) => join(dirOf(holder), `${vm}${SUFFIX}`);
  return {
    pathOf,
    pathToSave: async (vm) => {
      await mkdir(dirOf(), { recursive: true });
      return pathOf(vm);
    },
    has: (vm, holder) =>
      access(pathOf(vm, holder)).then(
        () => true,
        () => false,
      ),
    async list() {
      const names = await readdir(dirOf()).catch(() => [] as string[]);
      return names.filter((n) => n.endsWith(SUFFIX) && n.length > SUFFIX.length).map((n) => n.slice(0, -SUFFIX.length));
    },
    remove: (vm, holder) =>
      unlink(pathOf(vm, holder)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      }),
  };
}
