/** entropy deploy install's exit code when at least one host failed (the others are still done). */
export const EXIT_HOST_FAILED = 6;
