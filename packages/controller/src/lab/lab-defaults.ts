/** A lab's defaults, apart from the lab's code so that declaring `entropy lab` loads none of it. */
export const DEFAULT_LAB_DIR = '/tmp/entropy-lab';
export const DEFAULT_LAB_HOSTS = 3;
export const DEFAULT_LAB_GUESTS = 9;
export const DEFAULT_GUEST_MEM_MIB = 128;
export const DEFAULT_LAB_CAPACITY: Readonly<Record<string, number>> = { cpu: 4, mem: 1024 };
