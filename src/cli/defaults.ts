/** The command's default budget, shared by `hmmsim check` and the programmatic `check`. */
export const DEFAULT_RUNS = 20_000;
export const DEFAULT_TIME_SECONDS = 10;
export const DEFAULT_SEED = 1;
